// Release schedules: how the version an (app, host) reports rolls forward.
//
// Each app ships a new release every `intervalS` seconds of fleet time and
// rolls it out over `rolloutS` (< intervalS): a growing share of hosts,
// following a smooth S-curve (slow canary start, fast middle, slow tail),
// moves to the newest release. Which hosts go first is fixed per (app,
// host) by a threshold in [0, 1): a host runs the newest release once the
// rolled-out share exceeds its threshold, the previous one until then.
// Because a rollout completes before the next release starts, the release
// a host runs never goes backwards.

import { hash32, hashUnit } from './prng.js';

export type VersionStyle = 'semver' | 'git' | 'calver' | 'build' | 'codename';

export interface ReleaseSchedule {
  style: VersionStyle;
  major: number;
  /** Seconds of fleet time between two releases. */
  intervalS: number;
  /** Seconds a release takes to reach every host; less than intervalS. */
  rolloutS: number;
  /** Seconds since the newest release, at fleet time 0. */
  offsetS: number;
  /** Index of the newest release at fleet time 0 (apps have a history). */
  firstRelease: number;
}

const ROLLOUT_SHARE_OF_INTERVAL = 0.8;
const CODENAMES = ['Zürich', 'Kraków', 'Łódź', 'São Paulo', '東京', 'Reykjavík', 'Αθήνα', 'Malmö'] as const;

function styleFor(h: number): VersionStyle {
  const roll = h % 100;
  if (roll < 45) return 'semver';
  if (roll < 65) return 'git';
  if (roll < 80) return 'calver';
  if (roll < 90) return 'build';
  return 'codename';
}

/** The schedule of app `appIndex`; releases come every releaseEveryS on average. */
export function releaseSchedule(seed: number, appIndex: number, releaseEveryS: number): ReleaseSchedule {
  const intervalS = releaseEveryS * (0.5 + hashUnit(seed, 0x52454c, appIndex, 1));
  return {
    style: styleFor(hash32(seed, 0x52454c, appIndex, 2)),
    major: 1 + (hash32(seed, 0x52454c, appIndex, 3) % 9),
    intervalS,
    rolloutS: intervalS * ROLLOUT_SHARE_OF_INTERVAL,
    offsetS: intervalS * hashUnit(seed, 0x52454c, appIndex, 4),
    firstRelease: 3 + (hash32(seed, 0x52454c, appIndex, 5) % 60),
  };
}

/** Index of the newest release at fleet time t (seconds, t >= 0). */
export function newestRelease(schedule: ReleaseSchedule, t: number): number {
  return schedule.firstRelease + Math.floor((t + schedule.offsetS) / schedule.intervalS);
}

/** Share of hosts on the newest release at fleet time t, in [0, 1]. */
export function rolloutShare(schedule: ReleaseSchedule, t: number): number {
  const sinceStart = t + schedule.offsetS;
  const sinceRelease = sinceStart - Math.floor(sinceStart / schedule.intervalS) * schedule.intervalS;
  const progress = Math.min(1, sinceRelease / schedule.rolloutS);
  return progress * progress * (3 - 2 * progress);
}

/** The release a host with this rollout threshold runs at fleet time t. */
export function runningRelease(schedule: ReleaseSchedule, threshold: number, t: number): number {
  const newest = newestRelease(schedule, t);
  return rolloutShare(schedule, t) > threshold ? newest : newest - 1;
}

/** The host's place in the rollout order of an app, in [0, 1). */
export function rolloutThreshold(seed: number, appIndex: number, hostIndex: number): number {
  return hashUnit(seed, 0x524f4c4c, appIndex, hostIndex);
}

/** The version string of a release, in the app's versioning style. */
export function versionText(seed: number, appIndex: number, schedule: ReleaseSchedule, release: number): string {
  const { major } = schedule;
  switch (schedule.style) {
    case 'semver':
      return `${major}.${Math.floor(release / 10)}.${release % 10}`;
    case 'git': {
      const commit = hash32(seed, 0x474954, appIndex, release).toString(16).padStart(8, '0').slice(0, 7);
      return `v${major}.${Math.floor(release / 8)}.${release % 8}-g${commit}`;
    }
    case 'calver': {
      const month = String(1 + (Math.floor(release / 2) % 12)).padStart(2, '0');
      return `${2022 + Math.floor(release / 24)}.${month}.${release % 2}`;
    }
    case 'build':
      return `10.0.${19041 + release}.${1 + (hash32(seed, 0x4255494c, appIndex, release) % 4000)}`;
    case 'codename':
      return `${major}.${release} (${CODENAMES[Math.floor(release / 5) % CODENAMES.length]})`;
  }
}
