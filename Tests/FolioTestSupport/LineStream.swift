import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 GET whose response body is read line by line as it arrives (for NDJSON
/// streams such as the sync endpoint), over a real socket with SwiftNIO.
public final class LineStream: Sendable {
    public let status: Int
    public let headers: [String: String]
    private let lines: AsyncThrowingStream<String, any Error>
    private let task: Task<Void, Never>

    private init(status: Int, headers: [String: String], lines: AsyncThrowingStream<String, any Error>, task: Task<Void, Never>) {
        self.status = status
        self.headers = headers
        self.lines = lines
        self.task = task
    }

    /// Opens `url` (http://host:port/path?query) and waits for the response head.
    public static func open(_ url: String, headers: [String: String] = [:]) async throws -> LineStream {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw URLError(.badURL)
        }
        let target = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let (lines, lineSink) = AsyncThrowingStream<String, any Error>.makeStream()
        let (head, headSink) = AsyncThrowingStream<HTTPResponseHead, any Error>.makeStream()
        let task = Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var requestHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
                    requestHead.headers.add(name: "Host", value: "\(host):\(port)")
                    for (name, value) in headers { requestHead.headers.add(name: name, value: value) }
                    try await outbound.write(.head(requestHead))
                    try await outbound.write(.end(nil))
                    var pending: [UInt8] = []
                    for try await part in inbound {
                        switch part {
                        case .head(let response):
                            headSink.yield(response)
                            headSink.finish()
                        case .body(let buffer):
                            pending += buffer.readableBytesView
                            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                                lineSink.yield(String(decoding: pending[..<newline], as: UTF8.self))
                                pending.removeSubrange(...newline)
                            }
                        case .end:
                            if !pending.isEmpty { lineSink.yield(String(decoding: pending, as: UTF8.self)) }
                            lineSink.finish()
                            return
                        }
                    }
                    lineSink.finish()
                }
            } catch {
                headSink.finish(throwing: error)
                lineSink.finish(throwing: error)
            }
        }
        var iterator = head.makeAsyncIterator()
        guard let response = try await iterator.next() else {
            task.cancel()
            throw URLError(.badServerResponse)
        }
        var fields: [String: String] = [:]
        for (name, value) in response.headers { fields[name.lowercased()] = value }
        return LineStream(status: Int(response.status.code), headers: fields, lines: lines, task: task)
    }

    /// Every line, as it arrives; ends when the server ends the response.
    public var allLines: AsyncThrowingStream<String, any Error> { lines }

    /// Each line as a JSON object.
    public func objects() -> AsyncThrowingMapSequence<AsyncThrowingStream<String, any Error>, [String: Any]> {
        lines.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw URLError(.cannotParseResponse)
            }
            return object
        }
    }

    /// Closes the connection (the client leaving).
    public func close() {
        task.cancel()
    }
}
