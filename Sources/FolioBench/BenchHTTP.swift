import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A keep-alive HTTP/1.1 connection for the benchmarks (SwiftNIO; no client library).
enum BenchHTTP {
    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    static func connect(host: String, port: Int) async throws -> Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
    }

    static func head(_ method: HTTPMethod, _ uri: String, host: String, token: String, contentLength: Int? = nil) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let contentLength {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(contentLength))
        }
        return head
    }

    /// Reads one response; returns its status and body.
    static func response(_ inbound: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) async throws -> (Int, ByteBuffer) {
        var status = 0
        var body = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let head): status = Int(head.status.code)
            case .body(var buffer): body.writeBuffer(&buffer)
            case .end: return (status, body)
            }
        }
        throw BenchError.failed("connection closed mid-response")
    }
}
