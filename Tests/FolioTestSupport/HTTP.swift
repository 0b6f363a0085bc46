import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A minimal HTTP client for end-to-end tests against the real server on loopback.
public enum HTTP {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        public var text: String { String(decoding: body, as: UTF8.self) }

        public func json() throws -> [String: Any] {
            (try JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        }
    }

    public static func get(_ url: String, headers: [String: String] = [:]) async throws -> Response {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 30
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            fields["\(name)".lowercased()] = "\(value)"
        }
        return Response(status: http.statusCode, headers: fields, body: data)
    }

    public static func post(_ url: String, body: Data, headers: [String: String] = [:]) async throws -> Response {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.timeoutInterval = 30
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            fields["\(name)".lowercased()] = "\(value)"
        }
        return Response(status: http.statusCode, headers: fields, body: data)
    }

    /// POSTs a JSON object.
    public static func post(_ url: String, json: [String: Any], headers: [String: String] = [:]) async throws -> Response {
        try await post(url, body: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), headers: headers)
    }
}
