import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The data directory: the SQLite database and stored files. One server at a time may serve it,
/// which an exclusive lock on `serve.lock` enforces; admin commands do not take the lock.
public enum DataDirectory {
    public static func prepare(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(path)/tmp", withIntermediateDirectories: true)
    }

    /// Takes the serve lock for the life of the process, or says who holds it.
    public static func lockForServing(_ path: String) throws -> Int32 {
        let lockPath = "\(path)/serve.lock"
        let fd = open(lockPath, O_CREAT | O_RDWR, 0o644)
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
