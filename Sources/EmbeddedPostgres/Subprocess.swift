import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion with `posix_spawn` and `waitpid`.
///
/// Foundation's `Process` relies on a SIGCHLD dispatch source that was seen to leave children
/// unreaped (and the caller waiting forever) when used from Swift concurrency; this is the
/// plain POSIX way, with output collected in a temporary file rather than a pipe (a server
/// started by `pg_ctl` could otherwise hold the pipe open).
enum Subprocess {
    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Runs `executable` with `arguments` in the folder `/` (a user we switch to may not be
    /// able to enter the caller's folder); blocks the calling thread until it exits.
    static func run(_ program: String, _ programArguments: [String], environment: [String: String]) throws -> Outcome {
        let executable = "/bin/sh"
        let arguments = ["-c", "cd / && exec \"$0\" \"$@\"", program] + programArguments
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("folio-subprocess-\(getpid())-\(UUID().uuidString.prefix(8))").path
        defer { unlink(outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw EmbeddedPostgresError.commandFailed(command: executable, status: -1, output: "cannot start: \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw EmbeddedPostgresError.commandFailed(command: executable, status: -1, output: "waitpid failed: errno \(errno)")
            }
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: exitCode, output: output)
    }
}
