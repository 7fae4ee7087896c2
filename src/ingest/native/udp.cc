// UDP sockets for the ingest engine: SO_REUSEPORT binding (Node 20's dgram
// cannot share a port between threads) and batched I/O with recvmmsg/sendmmsg,
// so one system call moves up to 64 datagrams. Every function is synchronous:
// each ingest worker thread owns one socket and blocks in udpRecv, bounded by
// SO_RCVTIMEO so it can notice a stop request.
#include <napi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr int kMaxBatch = 256;
constexpr int kAddrSlot = 48;  // [u8 length][INET6_ADDRSTRLEN text]

Napi::Value ThrowErrno(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  const char* code = err == EADDRINUSE ? "EADDRINUSE"
                   : err == EACCES ? "EACCES"
                   : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL"
                   : err == EBADF ? "EBADF"
                   : "ESYSCALL";
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ParseAddress(const std::string& ip, int port, sockaddr_storage* out, socklen_t* len) {
  memset(out, 0, sizeof(*out));
  if (ip.empty() || ip == "::") {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(out);
    a6->sin6_family = AF_INET6;
    a6->sin6_addr = in6addr_any;
    a6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* a6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// Dotted-quad text of 4 address bytes; returns its length. (glibc's
// inet_ntop formats IPv4 with sprintf, a visible cost per datagram.)
int FormatIPv4(const uint8_t* b, char* out) {
  char* p = out;
  for (int i = 0; i < 4; i++) {
    unsigned v = b[i];
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + (v / 10) % 10);
    *p++ = static_cast<char>('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  *p = 0;
  return static_cast<int>(p - out);
}

// Writes the sender address as text; IPv4-mapped IPv6 addresses (what a
// dual-stack socket reports for IPv4 senders) are written as plain IPv4.
int FormatAddress(const sockaddr_storage& from, char* out, size_t cap) {
  if (from.ss_family == AF_INET) {
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&from);
    return FormatIPv4(reinterpret_cast<const uint8_t*>(&a4->sin_addr), out);
  }
  if (from.ss_family != AF_INET6) return 0;
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&from);
  if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) return FormatIPv4(&a6->sin6_addr.s6_addr[12], out);
  if (!inet_ntop(AF_INET6, &a6->sin6_addr, out, cap)) return 0;
  return static_cast<int>(strlen(out));
}

// udpOpen(ip, port, { reusePort, rcvbuf, recvTimeoutMs }) ->
//   { fd, port, rcvbuf, inode, family }
// rcvbuf is what the kernel granted (getsockopt), not what was asked for.
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsObject()) {
    Napi::TypeError::New(env, "udpOpen(ip, port, options)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string ip = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  Napi::Object opts = info[2].As<Napi::Object>();
  bool reusePort = opts.Get("reusePort").ToBoolean().Value();
  int rcvbuf = opts.Has("rcvbuf") ? opts.Get("rcvbuf").ToNumber().Int32Value() : 0;
  int sndbuf = opts.Has("sndbuf") ? opts.Get("sndbuf").ToNumber().Int32Value() : 0;
  int timeoutMs = opts.Has("recvTimeoutMs") ? opts.Get("recvTimeoutMs").ToNumber().Int32Value() : 0;

  sockaddr_storage addr;
  socklen_t addrLen;
  if (!ParseAddress(ip, port, &addr, &addrLen)) {
    Napi::TypeError::New(env, "not an IP address: " + ip).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 && addr.ss_family == AF_INET6 && (ip.empty() || ip == "::")) {
    // No IPv6 on this host: listen on all IPv4 addresses instead.
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    memset(&addr, 0, sizeof(addr));
    a4->sin_family = AF_INET;
    a4->sin_addr.s_addr = htonl(INADDR_ANY);
    a4->sin_port = htons(port);
    addrLen = sizeof(sockaddr_in);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) return ThrowErrno(env, "socket", errno);

  int one = 1, zero = 0;
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  if (reusePort && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "setsockopt(SO_REUSEPORT)", err);
  }
  if (rcvbuf > 0) {
    // SO_RCVBUFFORCE passes net.core.rmem_max when privileged; otherwise the
    // kernel caps SO_RCVBUF at rmem_max. Either way we report what we got.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
  }
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (timeoutMs > 0) {
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addrLen) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "bind", err);
  }

  int granted = 0;
  socklen_t glen = sizeof(granted);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &glen);
  sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  int boundPort = bound.ss_family == AF_INET
      ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
      : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  struct stat st;
  fstat(fd, &st);

  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", fd);
  result.Set("port", boundPort);
  result.Set("rcvbuf", granted);
  result.Set("inode", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  result.Set("family", bound.ss_family == AF_INET6 ? 6 : 4);
  return result;
}

// udpRecv(fd, data, slotSize, lengths, addrText, maxMsgs) -> count
// Blocks until at least one datagram arrives or the receive timeout passes
// (then returns 0). Datagram i lands at data[i*slotSize]; lengths[i] is its
// full size even when it was longer than the slot (MSG_TRUNC), so callers can
// reject oversize datagrams instead of parsing a truncated prefix.
Napi::Value UdpRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto data = info[1].As<Napi::Uint8Array>();
  int slotSize = info[2].As<Napi::Number>().Int32Value();
  auto lengths = info[3].As<Napi::Int32Array>();
  auto addrText = info[4].As<Napi::Uint8Array>();
  int maxMsgs = info[5].As<Napi::Number>().Int32Value();
  if (maxMsgs > kMaxBatch) maxMsgs = kMaxBatch;
  if (slotSize <= 0 || static_cast<size_t>(maxMsgs) * slotSize > data.ByteLength() ||
      static_cast<size_t>(maxMsgs) > lengths.ElementLength() ||
      static_cast<size_t>(maxMsgs) * kAddrSlot > addrText.ByteLength()) {
    Napi::RangeError::New(env, "udpRecv: buffers too small for maxMsgs").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  sockaddr_storage froms[kMaxBatch];
  uint8_t* base = data.Data();
  for (int i = 0; i < maxMsgs; i++) {
    iovs[i].iov_base = base + static_cast<size_t>(i) * slotSize;
    iovs[i].iov_len = slotSize;
    memset(&msgs[i].msg_hdr, 0, sizeof(msghdr));
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &froms[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  int n = recvmmsg(fd, msgs, maxMsgs, MSG_WAITFORONE | MSG_TRUNC, nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Napi::Number::New(env, 0);
    return ThrowErrno(env, "recvmmsg", errno);
  }
  int32_t* lens = lengths.Data();
  uint8_t* addrs = addrText.Data();
  for (int i = 0; i < n; i++) {
    // With MSG_TRUNC in flags, msg_len is the datagram's real length.
    lens[i] = static_cast<int32_t>(msgs[i].msg_len);
    char* slot = reinterpret_cast<char*>(addrs + i * kAddrSlot);
    slot[0] = static_cast<char>(FormatAddress(froms[i], slot + 1, kAddrSlot - 1));
  }
  return Napi::Number::New(env, n);
}

// udpSend(fd, data, lengths, count, ip, port) -> datagrams sent
// Datagrams are packed back to back in data; lengths[i] is the size of each.
Napi::Value UdpSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto data = info[1].As<Napi::Uint8Array>();
  auto lengths = info[2].As<Napi::Int32Array>();
  int count = info[3].As<Napi::Number>().Int32Value();
  std::string ip = info[4].As<Napi::String>().Utf8Value();
  int port = info[5].As<Napi::Number>().Int32Value();
  if (count > kMaxBatch) count = kMaxBatch;
  if (static_cast<size_t>(count) > lengths.ElementLength()) {
    Napi::RangeError::New(env, "udpSend: count exceeds lengths").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sockaddr_storage to;
  socklen_t toLen;
  if (!ParseAddress(ip, port, &to, &toLen)) {
    Napi::TypeError::New(env, "not an IP address: " + ip).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // A socket bound to "::" needs an IPv4-mapped destination for IPv4 peers.
  sockaddr_storage local;
  socklen_t localLen = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen);
  if (local.ss_family == AF_INET6 && to.ss_family == AF_INET) {
    sockaddr_in v4 = *reinterpret_cast<sockaddr_in*>(&to);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&to);
    memset(&to, 0, sizeof(to));
    a6->sin6_family = AF_INET6;
    a6->sin6_port = v4.sin_port;
    a6->sin6_addr.s6_addr[10] = 0xff;
    a6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a6->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
    toLen = sizeof(sockaddr_in6);
  }

  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  uint8_t* base = data.Data();
  size_t offset = 0;
  for (int i = 0; i < count; i++) {
    size_t len = static_cast<size_t>(lengths.Data()[i]);
    if (offset + len > data.ByteLength()) {
      Napi::RangeError::New(env, "udpSend: lengths exceed data").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    iovs[i].iov_base = base + offset;
    iovs[i].iov_len = len;
    offset += len;
    memset(&msgs[i].msg_hdr, 0, sizeof(msghdr));
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = toLen;
  }
  int sent = 0;
  while (sent < count) {
    int n = sendmmsg(fd, msgs + sent, count - sent, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A full send buffer or an ICMP "port unreachable" from an earlier
      // datagram is not fatal for a load generator: report what went out.
      if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) break;
      return ThrowErrno(env, "sendmmsg", errno);
    }
    sent += n;
  }
  return Napi::Number::New(env, sent);
}

// trimMemory() -> whether memory was returned. glibc keeps memory freed by a
// thread in that thread's arena; after a large LMDB transaction (whose dirty
// pages are malloc'd) that can be tens of MiB of resident memory doing
// nothing. malloc_trim hands the free parts back to the kernel.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

// setThreadName(name): names the calling thread (15 bytes at most), so
// top -H, perf and /proc/PID/task/*/comm tell the engine's threads apart.
Napi::Value SetThreadName(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value().substr(0, 15);
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  return info.Env().Undefined();
}

// setThreadNice(n) -> whether it worked: the calling thread's nice value
// (Linux schedules threads apart). Raising it needs no privilege; lowering
// it does, and then simply fails.
Napi::Value SetThreadNice(const Napi::CallbackInfo& info) {
  int nice = info[0].As<Napi::Number>().Int32Value();
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  return Napi::Boolean::New(info.Env(), setpriority(PRIO_PROCESS, tid, nice) == 0);
}

Napi::Value UdpClose(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  close(fd);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen));
  exports.Set("udpRecv", Napi::Function::New(env, UdpRecv));
  exports.Set("udpSend", Napi::Function::New(env, UdpSend));
  exports.Set("udpClose", Napi::Function::New(env, UdpClose));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadName));
  exports.Set("setThreadNice", Napi::Function::New(env, SetThreadNice));
  exports.Set("addrSlotSize", Napi::Number::New(env, kAddrSlot));
  exports.Set("maxBatch", Napi::Number::New(env, kMaxBatch));
  return exports;
}

}  // namespace

NODE_API_MODULE(partisci_udp, Init)
