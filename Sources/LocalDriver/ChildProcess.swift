#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A process started for one replica, in its own process group, its output appended to a log file.
///
/// Spawned with `posix_spawn` rather than Foundation's `Process` for two things the supervisor
/// needs: a process group per child (so a signal reaches whatever the model server started, and a
/// Ctrl-C in the terminal reaches only `thaw up`, which then stops replicas in order), and signal
/// dispositions reset to their defaults (the parent ignores SIGTERM and SIGPIPE for its own handling,
/// and ignored signals would otherwise be inherited through exec).
final class ChildProcess: Sendable {
    let pid: pid_t
    let executable: String
    let logPath: String

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// How a child ended.
    enum Exit: Sendable, Equatable, CustomStringConvertible {
        case status(Int32)
        case signal(Int32)
        /// Reaped by someone else (SIGCHLD ignored): it ended, how is not known.
        case unknown

        var description: String {
            switch self {
            case .status(let code): "exited with status \(code)"
            case .signal(let signal): "was killed by signal \(signal)"
            case .unknown: "exited"
            }
        }
    }

    /// Children are reaped here with `waitpid`; a SIGCHLD disposition of "ignore" inherited from
    /// whoever started us would make the kernel reap them first and hide their exit status.
    static func takeChildExits() {
        _ = Glibc.signal(SIGCHLD, SIG_DFL)
    }

    private init(pid: pid_t, executable: String, logPath: String) {
        self.pid = pid
        self.executable = executable
        self.logPath = logPath
    }

    /// Starts `executable` (a path, or a name looked up on the `PATH` in `environment`).
    static func spawn(executable: String, arguments: [String], environment: [String: String],
                      workingDirectory: String, logPath: String) throws -> ChildProcess {
        let path = try ExecutableLookup.resolve(executable, workingDirectory: workingDirectory, path: environment["PATH"] ?? "/usr/bin:/bin")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours leaks into the child: listening sockets are not close-on-exec, and a
        // replica holding the activator's port would keep it open after the activator closed it.
        if let closeFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        guard let addChdir = addChdir else {
            throw SpawnError(description: "this C library cannot set a child's working directory (posix_spawn_file_actions_addchdir_np)")
        }
        _ = addChdir(&actions, workingDirectory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "cannot start \(path): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, executable: path, logPath: logPath)
    }

    /// glibc has it since 2.29 but Swift's Glibc module does not import it; looked up once by name.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc 2.34 and later; older ones get an explicit close per open descriptor.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// Sends `signal` to the child's whole process group.
    func signal(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// Reaps the child if it ended; nil while it runs. Call from one place only.
    func poll() -> Exit? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == -1, errno == ECHILD { return .unknown }
        guard result == pid else { return nil }
        let low = status & 0x7f
        if low == 0 { return .status((status >> 8) & 0xff) }
        return .signal(low)
    }

    /// The last lines of the child's log, for crash reports; only its last 4 KiB are read.
    func logTail(lines: Int = 5) -> String {
        guard let file = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? file.close() }
        let size = (try? file.seekToEnd()) ?? 0
        try? file.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: (try? file.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Waits for a child that was just killed, so it never lingers as a zombie.
    func reapNow() {
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }
}

/// Where a replica's program is: a path (relative to its working directory), or a name looked up
/// on `PATH`. One lookup for starting a replica and for checking, before anything starts, that it can be.
public enum ExecutableLookup {
    public static func resolve(_ executable: String, workingDirectory: String, path: String) throws -> String {
        if executable.contains("/") {
            let full = executable.hasPrefix("/") ? executable : workingDirectory + "/" + executable
            guard FileManager.default.isExecutableFile(atPath: full) else {
                throw ChildProcess.SpawnError(description: "\(full) is not an executable file")
            }
            return full
        }
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ChildProcess.SpawnError(description: "command \"\(executable)\" was not found on PATH (\(path))")
    }
}
