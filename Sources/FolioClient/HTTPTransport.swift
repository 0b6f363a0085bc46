import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client over SwiftNIO: whole requests for `POST /v1/events`, and
/// responses read line by line with back-pressure for the NDJSON sync stream.
enum HTTPTransport {
    /// A response head.
    struct Head: Sendable {
        var status: Int
        var headers: [String: String]
        var retryAfter: Double? { headers["retry-after"].flatMap(Double.init) }
    }

    /// Failures below HTTP (connection refused, reset, timed out).
    struct ConnectionFailure: Error, CustomStringConvertible {
        var reason: String
        /// Whether the connection had been made (the failure came later).
        var connected = false
        var description: String { reason }
    }

    struct Endpoint {
        var host: String
        var port: Int
        var target: String
    }

    static func endpoint(_ url: String) throws(ConnectionFailure) -> Endpoint {
        guard let components = URLComponents(string: url), let host = components.host, components.scheme == "http" else {
            throw ConnectionFailure(reason: "not an http:// URL: \(url)")
        }
        let target = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return Endpoint(host: host, port: components.port ?? 80, target: target)
    }

    /// Closes the connection when nothing arrives for a while (a dead live stream).
    private final class IdleCloser: ChannelInboundHandler, Sendable {
        typealias InboundIn = NIOAny
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent {
                context.close(promise: nil)
            } else {
                context.fireUserInboundEventTriggered(event)
            }
        }
    }

    /// Sends one request and calls `onHead` then `onBody` for each chunk of the body as it
    /// arrives; `onBody` returning false closes the connection.
    static func exchange(
        method: HTTPMethod, url: String, headers: [String: String], body: Data?, idleTimeout: TimeAmount,
        onHead: (Head) async throws -> Void, onBody: (ByteBuffer) async throws -> Bool
    ) async throws {
        let endpoint = try endpoint(url)
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.addHandler(IdleCloser())
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ConnectionFailure(reason: "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        var sawEnd = false
        do {
        try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: endpoint.target)
            head.headers.add(name: "Host", value: "\(endpoint.host):\(endpoint.port)")
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body { head.headers.add(name: "Content-Length", value: String(body.count)) }
            // One write for the whole request: with `Connection: close` the server may answer
            // and close as soon as the body is in, and a separate write of the (empty) end
            // part would then fail with "I/O on closed channel" although the answer is there.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            loop: for try await part in inbound {
                switch part {
                case .head(let response):
                    var fields: [String: String] = [:]
                    for (name, value) in response.headers { fields[name.lowercased()] = value }
                    try await onHead(Head(status: Int(response.status.code), headers: fields))
                case .body(let buffer):
                    if try await !onBody(buffer) {
                        sawEnd = true
                        break loop
                    }
                case .end:
                    sawEnd = true
                    break loop
                }
            }
        }
        } catch let error as ClientError {
            throw error
        } catch let error as ChannelError {
            throw ConnectionFailure(reason: "\(error)", connected: true)
        }
        if !sawEnd { throw ConnectionFailure(reason: "the connection closed before the response ended", connected: true) }
    }

    /// A whole request and response; a connection that fails after it was made (reset,
    /// closed mid-request) is tried again twice — callers send only idempotent requests.
    static func send(method: HTTPMethod, url: String, headers: [String: String], body: Data?) async throws -> (Head, Data) {
        var attempt = 0
        while true {
            do {
                return try await sendOnce(method: method, url: url, headers: headers, body: body)
            } catch let failure as ConnectionFailure where failure.connected && attempt < 2 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    private static func sendOnce(method: HTTPMethod, url: String, headers: [String: String], body: Data?) async throws -> (Head, Data) {
        var head: Head?
        var data = Data()
        try await exchange(
            method: method, url: url, headers: headers, body: body, idleTimeout: .seconds(60),
            onHead: { head = $0 }, onBody: { buffer in
                data.append(contentsOf: buffer.readableBytesView)
                return true
            })
        guard let head else { throw ConnectionFailure(reason: "no response") }
        return (head, data)
    }
}

/// Splits a byte stream into lines.
struct LineSplitter {
    private var pending: [UInt8] = []

    /// Appends `buffer` and returns the complete lines in it (without the newline).
    mutating func feed(_ buffer: ByteBuffer) -> [ArraySlice<UInt8>] {
        pending.append(contentsOf: buffer.readableBytesView)
        var lines: [ArraySlice<UInt8>] = []
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if newline > start { lines.append(pending[start..<newline]) }
            start = newline + 1
        }
        // The slices keep the old storage alive, so dropping the consumed part copies only the rest.
        if start > pending.startIndex { pending = Array(pending[start...]) }
        return lines
    }
}
