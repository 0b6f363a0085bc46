import EmbeddedPostgres
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real child process (the `folio` binary) with its output captured, for end-to-end tests.
///
/// Uses `posix_spawn`, pipes read by threads of their own, and `waitpid` on a thread, so
/// nothing blocks Swift's cooperative pool.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let stdoutBuffer = Mutex<[UInt8]>([])
    private let stderrBuffer = Mutex<[UInt8]>([])
    private let exitStatus = Mutex<Int32?>(nil)

    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Starts `executable`. `environment` replaces the inherited one entirely when given.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw POSIXError(.EMFILE) }
        let pid: pid_t
        do {
            pid = try Subprocess.spawn(
                executable.path, arguments, environment: environment, stdout: outPipe[1], stderr: errPipe[1],
                closeInChild: outPipe + errPipe)
            close(outPipe[1])
            close(errPipe[1])
        } catch {
            (outPipe + errPipe).forEach { close($0) }
            throw error
        }
        self.pid = pid
        Self.drain(outPipe[0], into: self, stdout: true)
        Self.drain(errPipe[0], into: self, stdout: false)
    }

    private static func drain(_ fd: Int32, into process: ChildProcess, stdout: Bool) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                let chunk = Array(buffer[0..<count])
                if stdout {
                    process.stdoutBuffer.withLock { $0.append(contentsOf: chunk) }
                } else {
                    process.stderrBuffer.withLock { $0.append(contentsOf: chunk) }
                }
            }
            close(fd)
        }
        thread.start()
    }

    public var stdout: String { String(decoding: stdoutBuffer.withLock { $0 }, as: UTF8.self) }
    public var stderr: String { String(decoding: stderrBuffer.withLock { $0 }, as: UTF8.self) }

    /// Sends `signal` (e.g. `SIGTERM`).
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits until stdout contains `text`; returns stdout. Throws on timeout or early exit.
    @discardableResult
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let output = stdout
            if output.contains(text) { return output }
            if let status = exitStatus.withLock({ $0 }) ?? reapIfExited() {
                throw ChildProcessError.exitedEarly(status: status, stdout: output, stderr: stderr)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChildProcessError.timedOut(waitingFor: text, stdout: stdout, stderr: stderr)
    }

    private func reapIfExited() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        let code = Subprocess.exitCode(status)
        exitStatus.withLock { $0 = code }
        return code
    }

    /// Waits for the process to exit and returns its status (128+n when killed by signal n).
    public func wait(timeout: Duration = .seconds(120)) async throws -> Outcome {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatus.withLock({ $0 }) ?? reapIfExited() {
                // Let the reader threads collect the last output.
                try await Task.sleep(for: .milliseconds(50))
                return Outcome(status: status, stdout: stdout, stderr: stderr)
            }
            if ContinuousClock.now > deadline {
                send(SIGKILL)
                throw ChildProcessError.timedOut(waitingFor: "exit", stdout: stdout, stderr: stderr)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs a command to completion.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String], timeout: Duration = .seconds(120)) async throws -> Outcome {
        try await ChildProcess(executable, arguments, environment: environment).wait(timeout: timeout)
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case exitedEarly(status: Int32, stdout: String, stderr: String)
    case timedOut(waitingFor: String, stdout: String, stderr: String)

    public var description: String {
        switch self {
        case .exitedEarly(let status, let stdout, let stderr):
            return "process exited with \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)"
        case .timedOut(let text, let stdout, let stderr):
            return "timed out waiting for \(text)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)"
        }
    }
}
