import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One keep-alive TCP connection that sends raw HTTP/1.1 bytes and reads the answers in
/// order: for tests of pipelining, connection reuse and shutdown, which URLSession hides.
public struct RawHTTPConnection: Sendable {
    public struct Answer: Sendable {
        public var status: Int
        /// Header fields in the order sent, names lower-cased.
        public var fields: [(name: String, value: String)]
        public var body: Data

        public var text: String { String(decoding: body, as: UTF8.self) }

        public func header(_ name: String) -> String? {
            fields.first { $0.name == name.lowercased() }?.value
        }

        public func json() throws -> [String: Any] {
            (try JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        }
    }

    /// What came back: the answers read, and whether the server closed the connection.
    public struct Exchange: Sendable {
        public var answers: [Answer]
        public var closedByServer: Bool
    }

    /// A request's bytes: `method path`, the fields, and a body with its `Content-Length`.
    public static func request(_ method: String, _ path: String, fields: [String: String] = [:], body: String? = nil) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
        return text
    }

    /// The server neither sent the answers asked for nor closed the connection in time.
    public struct TimedOut: Error, CustomStringConvertible {
        public var answers: [Answer]
        public var timeout: Duration
        public var description: String {
            "no answer \(answers.count + 1) and no close within \(timeout); answers so far: "
                + answers.map { "\($0.status) \($0.text.prefix(200))" }.joined(separator: " | ")
        }
    }

    /// Connects, runs `send` with a function that writes bytes, and reads until `count`
    /// answers came or the server closed the connection. `halfClose`: shut the sending side
    /// once `send` returns, as `nc` does at the end of its input. Past `timeout` the connection
    /// is closed and ``TimedOut`` says what had come back.
    public static func exchange(
        port: Int, answers count: Int, halfClose: Bool = false, timeout: Duration = .seconds(120),
        send: @Sendable (_ write: @Sendable ([UInt8]) async throws -> Void) async throws -> Void
    ) async throws -> Exchange {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        let timedOut = Atomic(false)
        let watchdog = Task { [underlying = channel.channel] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            timedOut.store(true, ordering: .sequentiallyConsistent)
            underlying.close(promise: nil)
        }
        defer { watchdog.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            let writer = outbound
            try await send { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
            if halfClose { outbound.finish() }
            var buffer = ByteBuffer()
            var answers: [Answer] = []
            do {
                for try await chunk in inbound {
                    buffer.writeImmutableBuffer(chunk)
                    while let answer = try parse(&buffer) {
                        answers.append(answer)
                        if answers.count == count { return Exchange(answers: answers, closedByServer: false) }
                    }
                }
            } catch where timedOut.load(ordering: .sequentiallyConsistent) {}
            if timedOut.load(ordering: .sequentiallyConsistent) { throw TimedOut(answers: answers, timeout: timeout) }
            return Exchange(answers: answers, closedByServer: true)
        }
    }

    enum ParseError: Error { case malformed(String) }

    /// One complete answer from the front of `buffer` (with a `Content-Length`), or nil if
    /// more bytes are needed.
    static func parse(_ buffer: inout ByteBuffer) throws -> Answer? {
        let bytes = buffer.readableBytesView
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: bytes[bytes.startIndex..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ParseError.malformed(head) }
        let fields = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        guard let length = fields.first(where: { $0.name == "content-length" }).flatMap({ Int($0.value) }) else {
            throw ParseError.malformed("no content-length: \(head)")
        }
        let headLength = end.upperBound - bytes.startIndex
        guard buffer.readableBytes >= headLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength)
        let body = Data(buffer.readBytes(length: length) ?? [])
        return Answer(status: status, fields: fields, body: body)
    }
}
