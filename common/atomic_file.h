// Writers never leave a half-written file: they write PATH.tmp.<pid>, fsync it, rename it over
// PATH and fsync the directory, so after a crash or a power cut PATH is the old file or the new
// one, never a mix. On any error the temporary is removed; a process killed with SIGKILL leaves
// its temporary, which remove_stale_temporaries clears on the next run.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace slimtune {

// Calls write(out) on a stream to a temporary beside `path`, then renames it to `path`.
// Throws Error naming `path` if the file cannot be created, written or renamed.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// fsync(2) of the directory `dir`, so that a rename into it survives a power cut. Errors are
// ignored (some file systems cannot sync a directory; the rename itself has happened).
void sync_directory(const std::string& dir);

// Removes, from the directory `dir` (not below it), the "<name>.tmp.<pid>" files and staged
// directories of writers that are no longer running (<pid> is no live process): what a
// SIGKILL in the middle of an atomic write leaves. Returns their names, for the caller's note.
// A live process's temporaries are left alone, as is anything else, and so is a staged
// directory that holds a subdirectory (a user's directory carried over by publish()).
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

// An output made of several files (a PEFT adapter, an exported model directory), published as
// a whole: the files are written into a sibling "<dir>.tmp.<pid>", and publish() swaps it in
// for `dir` with one atomic rename (renameat2 RENAME_EXCHANGE), so a reader, or a run killed
// at any moment, sees the old set of files or the new one, never a mix.
class StagedDirectory {
public:
    // Creates the stage beside `dir` (a stale one of the same pid is removed first). Error
    // naming the stage when it cannot be made.
    explicit StagedDirectory(const std::string& dir);
    StagedDirectory(const StagedDirectory&) = delete;
    StagedDirectory& operator=(const StagedDirectory&) = delete;
    ~StagedDirectory(); // removes the stage (after publish(): the old contents)

    const std::string& path() const { return stage_; }
    std::string file(const std::string& name) const { return stage_ + "/" + name; }

    // Carries over what `dir` holds and the stage does not (files as hard links, so the old
    // set stays whole until the swap; directories are moved back after it), fsyncs every file
    // and the stage, swaps, and fsyncs the parent. Where the file system cannot exchange
    // (EINVAL), `dir` is renamed aside and the stage renamed in: for an instant `dir` is
    // missing, but never mixed. Error naming `dir` on failure; `dir` is then unchanged.
    // `superseded(name)` true: a file of the old `dir` that the new set replaces under another
    // name (a single model.safetensors giving way to shards) is not carried over.
    void publish(const std::function<bool(const std::string&)>& superseded = nullptr);

private:
    std::string dir_, stage_;
};

} // namespace slimtune
