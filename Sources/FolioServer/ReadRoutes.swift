import FolioCore
import FolioProjector
import Foundation
import Hummingbird

/// The read models over HTTP (SPEC §5, §9): articles, an article at a revision or time, its
/// history and annotations, and search. Every route needs a token (reader or more).
struct ReadRoutes: Sendable {
    let reads: ReadModels
    let authenticator: Authenticator

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/articles") { request, _ in
            _ = try await authenticator.require(.reader, request)
            let query = request.uri.queryParameters
            let limit = try Self.integer(query["limit"].map(String.init), name: "limit", range: 1...1000) ?? 50
            let page = try await reads.articles(limit: limit, after: query["after"].map(String.init))
            return JSONBody.response(page)
        }
        router.get("/v1/articles/{id}") { request, context in
            _ = try await authenticator.require(.reader, request)
            let id = try await article(context)
            let query = request.uri.queryParameters
            let view: ArticleView?
            if let revision = try Self.integer(query["revision"].map(String.init), name: "revision", range: 1...Int(Int32.max)) {
                guard query["at"] == nil else {
                    throw APIError(status: .badRequest, code: "bad-request", message: "give revision= or at=, not both")
                }
                view = try await reads.article(id: id, revision: revision)
            } else if let at = query["at"] {
                guard let time = RFC3339.date(from: String(at)) else {
                    throw APIError(status: .badRequest, code: "bad-request", message: "at= must be an RFC 3339 time such as 2026-01-10T08:00:00Z", details: ["at": String(at)])
                }
                view = try await reads.article(id: id, at: time)
            } else {
                view = try await reads.article(id: id)
            }
            guard let view else { throw Self.notFound(id, query.isEmpty ? nil : "at that revision or time") }
            return JSONBody.response(view)
        }
        router.get("/v1/articles/{id}/history") { request, context in
            _ = try await authenticator.require(.reader, request)
            let id = try await article(context)
            guard let history = try await reads.history(articleId: id) else { throw Self.notFound(id, nil) }
            return JSONBody.response(history)
        }
        router.get("/v1/articles/{id}/annotations") { request, context in
            _ = try await authenticator.require(.reader, request)
            let id = try await article(context)
            var status: Anchor.Status?
            if let text = request.uri.queryParameters["status"] {
                guard let parsed = Anchor.Status(rawValue: String(text)) else {
                    throw APIError(status: .badRequest, code: "bad-request", message: "status= must be anchored, fuzzy or orphaned", details: ["status": String(text)])
                }
                status = parsed
            }
            guard let annotations = try await reads.annotations(articleId: id, status: status) else { throw Self.notFound(id, nil) }
            return JSONBody.response(annotations)
        }
        router.get("/v1/search") { request, _ in
            _ = try await authenticator.require(.reader, request)
            let query = request.uri.queryParameters
            guard let text = query["q"], !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw APIError(status: .badRequest, code: "bad-request", message: "q= must not be empty")
            }
            let limit = try Self.integer(query["limit"].map(String.init), name: "limit", range: 1...200) ?? 20
            return JSONBody.response(try await reads.search(String(text).nfc, limit: limit))
        }
    }

    /// The article named in the path: its id, or its slug.
    func article(_ context: BasicRequestContext) async throws -> UUID {
        let name = context.parameters.get("id") ?? ""
        if let id = UUID(uuidString: name) { return id }
        if let view = try await reads.article(slug: name.nfc) { return view.id }
        throw APIError(status: .notFound, code: "not-found", message: "no article with id or slug \"\(name)\"")
    }

    static func notFound(_ id: UUID, _ what: String?) -> APIError {
        APIError(status: .notFound, code: "not-found", message: "no article \(id.uuidString.lowercased())\(what.map { " " + $0 } ?? "")")
    }

    static func integer(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(status: .badRequest, code: "bad-request", message: "\(name)= must be an integer in \(range.lowerBound)...\(range.upperBound)", details: [name: text])
        }
        return value
    }
}
