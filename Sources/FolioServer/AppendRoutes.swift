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
    static func reply(_ results: [AppendResult]) -> HTTPAnswer {
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
        return HTTPAnswer(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: buffer)
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/events") { request, _ in
            try await append(request)
        }
    }

    /// The route, for requests ``AppendChannelHandler`` leaves to Hummingbird (e.g. one sent
    /// with `Connection: close`).
    func append(_ request: Request) async throws -> Response {
        var request = request
        let answer = await answer(fields: request.headers) { [maxBodyBytes = configuration.maxBodyBytes] in
            do {
                return .bytes(try await request.collectBody(upTo: maxBodyBytes))
            } catch is NIOTooManyBytesError {
                return .tooLarge
            }
        }
        return answer.response
    }

    /// A request body as the append path sees it.
    enum Body: Sendable {
        case bytes(ByteBuffer)
        /// Larger than `maxBodyBytes` (and not kept).
        case tooLarge
    }

    /// The whole of `POST /v1/events` after HTTP: the token is checked before the body is
    /// looked at (a caller without a valid token learns nothing about its body), then the
    /// batch is parsed, judged and appended. Every failure becomes its answer here, so the
    /// route and the channel handler answer alike.
    func answer(fields: HTTPFields, body: () async throws -> Body) async -> HTTPAnswer {
        do {
            let identity = try await authenticator.identity(of: fields)
            guard case .bytes(let bytes) = try await body() else {
                throw APIError(
                    status: .contentTooLarge, code: "body-too-large", message: "the body is larger than \(configuration.maxBodyBytes) bytes",
                    details: ["limit": String(configuration.maxBodyBytes)])
            }
            return Self.reply(try await append(bytes, as: identity))
        } catch let error as APIError {
            return error.answer
        } catch {
            if let mapped = APIError.database(error, logger: logger) { return mapped.answer }
            logger.error("append failed", metadata: ["error": "\(error)"])
            return APIError(status: .internalServerError, code: "internal", message: "the append failed").answer
        }
    }

    /// Parses, judges and appends one batch for `identity`; a refusal throws its `APIError`.
    func append(_ body: ByteBuffer, as identity: Identity) async throws -> [AppendResult] {
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
        }
        metrics.record(results)
        return results
    }
}
