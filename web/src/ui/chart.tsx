// A uPlot chart that fits its container's width. uPlot is rebuilt only
// when `shape` changes (other series, other axes); new data of the same
// shape is swapped in place, which is cheap enough for live updates.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartProps {
  /** Everything but the size; called again only when `shape` changes. */
  options: () => Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  shape: string;
  height: number;
  class?: string;
  label?: string;
}

export function Chart({ options, data, shape, height, class: cls, label }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot({ ...options(), width: Math.max(100, el.clientWidth), height }, dataRef.current, el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} class={cls} role="img" aria-label={label} />;
}
