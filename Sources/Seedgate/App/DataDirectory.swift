import Foundation
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

    public static func prepare(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(path)/tmp", withIntermediateDirectories: true)
    }

    /// Takes the serve lock for the life of the process, or says who holds it.
    public static func lockForServing(_ path: String) throws -> Int32 {
        let lockPath = "\(path)/serve.lock"
        // Close-on-exec: a child (ffmpeg) must not inherit the lock and outlive a killed server with it.
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
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
