import FolioStore
import Foundation
import Hummingbird
import LibPQ
import Logging
import NIOCore

/// `POST /v1/events`: append a batch (SPEC §5, §9).
struct AppendRoutes: Sendable {
    let store: EventStore?
    let articles: ArticleCache?
    let authenticator: Authenticator
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger

    /// `{"results": [...]}`, written by hand (keys sorted, as `JSONBody` writes them): on the
    /// append path `JSONEncoder` cost more than judging the event.
    static func reply(_ results: [AppendResult]) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + results.count * 160)
        buffer.writeStaticString(#"{"results":["#)
        for (index, result) in results.enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeStaticString(#"{"id":"#)
            JSONText.writeString(result.id, into: &buffer)
            if let ops = result.ops {
                buffer.writeStaticString(#","ops":"#)
                buffer.writeString(ops.jsonText)
            }
            buffer.writeStaticString(#","position":"#)
            buffer.writeString(String(result.position))
            buffer.writeStaticString(#","revision":"#)
            buffer.writeString(String(result.revision))
            buffer.writeStaticString(#","status":"#)
            JSONText.writeString(result.status.rawValue, into: &buffer)
            buffer.writeStaticString(#","stream":"#)
            JSONText.writeString(result.stream, into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]}")
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/events") { request, _ in
            try await append(request)
        }
    }

    func append(_ request: Request) async throws -> Response {
        let identity = try await authenticator.identity(of: request)
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(
                status: .contentTooLarge, code: "body-too-large", message: "the body is larger than \(configuration.maxBodyBytes) bytes",
                details: ["limit": String(configuration.maxBodyBytes)])
        }
        let incoming: [IncomingEvent]
        do {
            incoming = try AppendRequest.parse(body, maxEvents: configuration.maxBatchEvents)
        } catch {
            metrics.refusedBatches.increment()
            throw error
        }
        guard let store, let articles, (try? store.currentEpoch()) != nil else {
            throw APIError(status: .serviceUnavailable, code: "store-starting", message: "the event store is starting", retryAfter: 1)
        }
        let intake = EventIntake(store: store, articles: articles, logger: logger)
        let results: [AppendResult]
        do {
            results = try await intake.append(incoming, as: identity)
        } catch let error as APIError {
            metrics.refusedBatches.increment()
            throw error
        } catch let error as PostgresError where error.isConnectionError {
            throw APIError.databaseUnavailable("\(error)")
        } catch let error as PostgresError where error.sqlState == "57014" {
            throw APIError(status: .serviceUnavailable, code: "timeout", message: "the database took too long", retryAfter: 1)
        }
        metrics.record(results)
        return Self.reply(results)
    }
}
