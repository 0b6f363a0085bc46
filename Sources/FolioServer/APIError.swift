import Foundation
import Hummingbird

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
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = Body(error: .init(code: code, message: message, details: details))
        return Response(status: status, headers: headers, body: .init(byteBuffer: JSONBody.encode(body)))
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
