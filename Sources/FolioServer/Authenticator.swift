import Foundation
import Hummingbird
import LibPQ
import Synchronization

/// Checks `Authorization: Bearer <token>` on every call but health and metrics.
///
/// Lookups are cached for ``cacheLifetime`` so a busy client costs no database round trip per
/// request; a revoked token therefore stops working within that time.
public final class Authenticator: Sendable {
    public let tokens: TokenStore
    public let cacheLifetime: Duration
    /// Keyed by the token's SHA-256 (never the token itself).
    private let cache = Mutex([[UInt8]: (identity: Identity?, until: ContinuousClock.Instant)]())

    public init(tokens: TokenStore, cacheLifetime: Duration = .seconds(2)) {
        self.tokens = tokens
        self.cacheLifetime = cacheLifetime
    }

    /// The caller's identity, or a 401 (no or bad token) / 503 (database down) error.
    public func identity(of request: Request) async throws -> Identity {
        try await identity(of: request.headers)
    }

    /// The identity for a request's header fields, or a 401 / 503 error.
    func identity(of fields: HTTPFields) async throws -> Identity {
        // One pass over the fields (the String subscript joins every Authorization field).
        var header: String?
        for field in fields where field.name == .authorization {
            guard header == nil else {
                throw APIError(status: .unauthorized, code: "unauthorized", message: "more than one Authorization header")
            }
            header = field.value
        }
        guard let header else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "missing Authorization: Bearer <token>")
        }
        guard let credentials = Self.bearerCredentials(header) else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "the Authorization header must be Bearer <token>")
        }
        let token = Self.trimmed(credentials)
        let key = TokenStore.hash(token).bytes
        let now = ContinuousClock.now
        let cached = cache.withLock { cache in cache[key].flatMap { $0.until > now ? $0 : nil } }
        let identity: Identity?
        if let cached {
            identity = cached.identity
        } else {
            do {
                identity = try await tokens.identity(forToken: token)
            } catch {
                throw APIError.databaseUnavailable("\(error)")
            }
            cache.withLock { cache in
                if cache.count > 10_000 { cache.removeAll() }
                cache[key] = (identity, now + cacheLifetime)
            }
        }
        guard let identity else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "unknown or revoked token")
        }
        return identity
    }

    /// What follows the `Bearer` scheme (any case) and one space, leading spaces skipped; nil
    /// for another scheme or nothing after it.
    static func bearerCredentials(_ header: String) -> Substring? {
        var rest = Substring(header)
        while rest.first == " " { rest = rest.dropFirst() }
        guard let space = rest.firstIndex(of: " ") else { return nil }
        let scheme = rest[..<space].utf8
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let credentials = rest[rest.index(after: space)...]
        return credentials.isEmpty ? nil : credentials
    }

    /// `text` without leading and trailing spaces and tabs (Foundation's `trimmingCharacters`
    /// costs a bridge to `NSString` on Linux, on every request).
    static func trimmed(_ text: Substring) -> String {
        var view = text
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }

    /// The caller's identity, if its role is at least `role`; else 401 or 403.
    public func require(_ role: Role, _ request: Request) async throws -> Identity {
        let identity = try await identity(of: request)
        guard identity.role >= role else {
            throw APIError(
                status: .forbidden, code: "forbidden", message: "the token \"\(identity.name)\" has role \(identity.role.rawValue); this needs \(role.rawValue)",
                details: ["role": identity.role.rawValue, "required": role.rawValue])
        }
        return identity
    }
}
