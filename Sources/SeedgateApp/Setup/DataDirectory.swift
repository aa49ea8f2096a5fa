import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
#if canImport(Glibc)
import Glibc
#endif

/// The data directory: the SQLite database and stored files. One server at a time may serve it,
/// which an exclusive lock on `serve.lock` enforces; admin commands do not take the lock.
public enum DataDirectory {
    /// Empties the scratch directory: only the server holding the lock may, since others may be using it.
    public static func clearScratch(_ path: String) {
        let scratch = "\(path)/tmp"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [] {
            try? FileManager.default.removeItem(atPath: "\(scratch)/\(entry)")
        }
    }

    /// Makes the data directory (and its scratch directory) if missing, and keeps it to its owner: it holds
    /// the link-signing key and every key's webhook secret. From here on this process creates files 0600
    /// and directories 0700 (the umask), whoever writes them (SQLite, ffmpeg, the blob store); what an
    /// earlier version left readable is tightened.
    public static func prepare(_ path: String) throws {
        umask(0o077)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(path)/tmp", withIntermediateDirectories: true)
        tighten(path)
    }

    /// Takes group and other permissions off `path` and everything below it (not following links).
    static func tighten(_ path: String) {
        func restrict(_ item: String) {
            var info = stat()
            guard lstat(item, &info) == 0 else { return }
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFDIR || kind == S_IFREG else { return }
            if info.st_mode & 0o077 != 0 { chmod(item, info.st_mode & 0o700) }
            guard kind == S_IFDIR else { return }
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: item)) ?? [] { restrict("\(item)/\(entry)") }
        }
        restrict(path)
    }

    /// Takes the serve lock for the life of the process, or says who holds it.
    public static func lockForServing(_ path: String) throws -> Int32 {
        let lockPath = "\(path)/serve.lock"
        // Close-on-exec: a child (ffmpeg) must not inherit the lock and outlive a killed server with it.
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigurationError("cannot open \(lockPath)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ConfigurationError("another seedgate server is already serving \(path); stop it first or use another --data-dir")
        }
        return fd
    }

    public static func unlock(_ fd: Int32) {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
