import Crypto
import Foundation
import LibPQ

/// What a token may do (SPEC §5, §9). Each role includes the ones before it.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Read and sync.
    case reader
    /// Also add annotations, and update and delete its own.
    case annotator
    /// Also create and edit articles, and change anyone's annotations.
    case editor
    /// Everything.
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Who is calling: the name and role of the token presented.
public struct Identity: Sendable, Hashable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// A stored token, without the secret (only its hash is kept).
public struct TokenRecord: Sendable, Codable, Equatable {
    public var name: String
    public var role: Role
    public var createdAt: Date
    public var revokedAt: Date?
}

/// Why a token command failed.
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidName(String)
    case nameTaken(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .invalidName(let name):
            "invalid token name \"\(name)\": use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        case .nameTaken(let name): "a live token named \"\(name)\" exists; revoke it first or choose another name"
        case .notFound(let name): "no live token named \"\(name)\""
        }
    }
}

/// Creates, lists, revokes and looks up API tokens (table `folio_tokens`, migration 0005).
public struct TokenStore: Sendable {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// Prefix of every token, so a leaked one is recognisable (e.g. by secret scanners).
    public static let prefix = "folio_"

    /// A new random 256-bit token, `folio_` + 43 characters of base64url.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return prefix + base64
    }

    /// SHA-256 of the token's UTF-8 bytes: what the table stores.
    public static func hash(_ token: String) -> PostgresBytes {
        var hasher = SHA256()
        var text = token
        text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return PostgresBytes(Array(hasher.finalize()))
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64 else { return false }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
        return name.unicodeScalars.allSatisfy { allowed.contains($0) } && CharacterSet.alphanumerics.contains(first) && first.isASCII
    }

    /// Creates a token and returns it; it is never shown again.
    public func create(name: String, role: Role) async throws -> String {
        guard Self.isValidName(name) else { throw TokenError.invalidName(name) }
        let token = Self.generate()
        do {
            try await pool.query("""
                INSERT INTO folio_tokens (name, role, token_sha256) VALUES (\(name), \(role.rawValue), \(Self.hash(token)))
                """)
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw TokenError.nameTaken(name)
        }
        return token
    }

    /// Live tokens (and revoked ones too, if asked), oldest first.
    public func list(includeRevoked: Bool = false) async throws -> [TokenRecord] {
        try await pool.query("""
            SELECT name, role, created_at, revoked_at FROM folio_tokens
             WHERE revoked_at IS NULL OR \(includeRevoked)
             ORDER BY created_at, id
            """).map { row in
            let role = try row.decode(String.self, at: 1)
            return TokenRecord(
                name: try row.decode(String.self, at: 0), role: Role(rawValue: role) ?? .reader,
                createdAt: try row.decode(Date.self, at: 2), revokedAt: try row.decode(Date?.self, at: 3))
        }
    }

    /// Revokes the live token called `name`; it stops working at once for new requests (and
    /// within ``Authenticator/cacheLifetime`` for a server that saw it just before).
    public func revoke(name: String) async throws {
        let result = try await pool.query("""
            UPDATE folio_tokens SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL
            """)
        if result.affectedRows == 0 { throw TokenError.notFound(name) }
    }

    /// The identity of a live token, or nil for an unknown or revoked one.
    public func identity(forToken token: String) async throws -> Identity? {
        let rows = try await pool.query("""
            SELECT name, role FROM folio_tokens WHERE token_sha256 = \(Self.hash(token)) AND revoked_at IS NULL
            """)
        guard let row = rows.first, let role = Role(rawValue: try row.decode(String.self, at: 1)) else { return nil }
        return Identity(name: try row.decode(String.self, at: 0), role: role)
    }
}
