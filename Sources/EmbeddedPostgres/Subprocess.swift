import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts programs with `posix_spawn` and waits for them with `waitpid`.
///
/// Foundation's `Process` relies on a SIGCHLD dispatch source that was seen to leave children
/// unreaped (and the caller waiting forever) when used from Swift concurrency; this is the
/// plain POSIX way. Output is collected in a temporary file rather than a pipe, since a server
/// started by `pg_ctl` could otherwise hold the pipe open.
public enum Subprocess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String
    }

    /// Runs `program` with `arguments` in the folder `/` (a user we switch to may not be able
    /// to enter the caller's folder); blocks the calling thread until it exits. Standard output
    /// and error are collected together.
    public static func run(_ program: String, _ arguments: [String], environment: [String: String]) throws -> Outcome {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("folio-subprocess-\(getpid())-\(UUID().uuidString.prefix(8))").path
        defer { unlink(outputPath) }
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else {
            throw EmbeddedPostgresError.commandFailed(command: program, status: -1, output: "cannot create \(outputPath): errno \(errno)")
        }
        let pid: pid_t
        do {
            pid = try spawn("/bin/sh", ["-c", "cd / && exec \"$0\" \"$@\"", program] + arguments,
                            environment: environment, stdout: output, stderr: output)
            close(output)
        } catch {
            close(output)
            throw error
        }
        let status = try waitForExit(pid)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Outcome(status: status, output: text)
    }

    /// Starts `executable` with stdin from `stdin` (nil: /dev/null) and stdout/stderr on the
    /// given descriptors; `closeInChild` are closed in the child (e.g. the read ends of pipes).
    /// The child starts with no blocked signals and default handlers.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String],
        stdout: Int32, stderr: Int32, stdin: Int32? = nil, closeInChild: [Int32] = []
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        for descriptor in closeInChild { posix_spawn_file_actions_addclose(&actions, descriptor) }

        // Threads of a Swift process (Dispatch, NIO) block signals; a child inherits the
        // calling thread's mask, and e.g. pgbench -T never sees its SIGALRM. Reset both.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw EmbeddedPostgresError.commandFailed(command: executable, status: -1, output: "cannot start: \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// Blocks until `pid` exits; returns its exit status, or 128+n when killed by signal n.
    public static func waitForExit(_ pid: pid_t) throws -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw EmbeddedPostgresError.commandFailed(command: "waitpid", status: -1, output: "waitpid failed: errno \(errno)")
            }
        }
        return exitCode(status)
    }

    /// WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (the C macros are not imported).
    public static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
