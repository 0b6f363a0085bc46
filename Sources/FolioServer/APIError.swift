import Foundation
import Hummingbird
import LibPQ
import Logging

/// The error shape of SPEC §5: `{"error": {"code": "...", "message": "...", "details": {...}}}`.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [String: String]
    /// Seconds, for 503 answers.
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, code: String, message: String, details: [String: String] = [:], retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    public static func databaseUnavailable(_ reason: String) -> APIError {
        APIError(status: .serviceUnavailable, code: "database-unavailable", message: "the database is not reachable", details: ["reason": reason], retryAfter: 5)
    }

    private struct Body: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
            var details: [String: String]
        }
        var error: Inner
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The JSON response for this error.
    public func response() -> Response {
        answer.response
    }

    /// The JSON answer for this error.
    var answer: HTTPAnswer {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = Body(error: .init(code: code, message: message, details: details))
        return HTTPAnswer(status: status, headers: headers, body: JSONBody.encode(body))
    }

    /// The answer for a database failure that escaped a handler: 503 with `Retry-After` while
    /// PostgreSQL is unreachable, busy or too slow, so clients back off and retry; any other
    /// database error a 500 in the same JSON shape, never a stack of libpq text. Nil for
    /// errors that are not the database's.
    static func database(_ error: any Error, logger: Logger) -> APIError? {
        guard let error = error as? PostgresError else { return nil }
        if error.isConnectionError { return .databaseUnavailable("\(error)") }
        if case .poolTimeout = error { return APIError(status: .serviceUnavailable, code: "busy", message: "no database connection was free in time", retryAfter: 1) }
        if error.sqlState == "57014" { return APIError(status: .serviceUnavailable, code: "timeout", message: "the database took too long", retryAfter: 1) }
        logger.error("database error", metadata: ["error": "\(error)"])
        return APIError(status: .internalServerError, code: "internal", message: "the database refused the request")
    }
}

/// A complete answer with its body in one buffer: what the append path produces, written
/// either through Hummingbird (``response``) or by ``AppendChannelHandler``.
struct HTTPAnswer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    var response: Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// JSON encoding with sorted keys, so answers are byte-for-byte stable across platforms.
enum JSONBody {
    static func encode(_ value: some Encodable) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.rfc3339(date))
        }
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: encode(value)))
    }
}
