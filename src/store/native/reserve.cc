// reserveFile(fd, end) -> true once every block of the file below `end`
// is allocated; false if the file system cannot (no fallocate). The file's
// size does not change (FALLOC_FL_KEEP_SIZE): LMDB sizes its file itself.
// Throws with code ENOSPC when the disk is full.
//
// Why: LMDB writes the store through a writable memory map (layout.ts).
// Writing a page of a sparse file through a map makes the kernel allocate
// the block right then, and if the disk is full it can only answer with
// SIGBUS, which kills the process. Reserving the blocks first turns a full
// disk into an error the committer can report, before it commits.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>

namespace {

Napi::Value ReserveFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t end = info[1].As<Napi::Number>().Int64Value();
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, end) == 0) return Napi::Boolean::New(env, true);
  int err = errno;
  if (err == EOPNOTSUPP) return Napi::Boolean::New(env, false);
  Napi::Error e = Napi::Error::New(env, std::string("fallocate: ") + strerror(err));
  e.Set("code", Napi::String::New(env, err == ENOSPC ? "ENOSPC" : err == EDQUOT ? "EDQUOT" : "ESYSCALL"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("reserveFile", Napi::Function::New(env, ReserveFile));
  return exports;
}

}  // namespace

NODE_API_MODULE(partisci_fs, Init)
