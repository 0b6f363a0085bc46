@testable import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

/// Tokens and roles (SPEC §5, §9): stored hashed, shown once, revocable.
@Suite("Access tokens")
struct AccessTests {
    @Test func tokensAreRandomHashedAndRevocable() async throws {
        let fixture = try await ServerFixture.make("tokens")
        let tokens = TokenStore(pool: fixture.admin)
        let token = try await tokens.create(name: "priya-laptop", role: .annotator)
        #expect(token.hasPrefix("folio_"))
        #expect(token.count == 6 + 43)
        #expect(token != (try await tokens.create(name: "priya-phone", role: .annotator)))
        // Only the hash is stored.
        let stored = try await fixture.admin.query("SELECT count(*) FROM folio_tokens WHERE position(\(token) in encode(token_sha256, 'escape')) > 0").scalar(Int.self)
        #expect(stored == 0)
        #expect(try await tokens.identity(forToken: token) == Identity(name: "priya-laptop", role: .annotator))
        await #expect(throws: TokenError.nameTaken("priya-laptop")) { try await tokens.create(name: "priya-laptop", role: .reader) }
        await #expect(throws: TokenError.invalidName("bad name; DROP")) { try await tokens.create(name: "bad name; DROP", role: .reader) }
        #expect(try await tokens.list().map(\.name).contains("priya-laptop"))

        // Works over HTTP, then not once revoked (after the cache's lifetime).
        let headers = ["Authorization": "Bearer \(token)"]
        #expect(try await HTTP.get("\(fixture.base)/v1/events", headers: headers).status == 200)
        try await tokens.revoke(name: "priya-laptop")
        await #expect(throws: TokenError.notFound("priya-laptop")) { try await tokens.revoke(name: "priya-laptop") }
        #expect(try await tokens.identity(forToken: token) == nil)
        try await Task.sleep(for: .milliseconds(2100))
        let refused = try await HTTP.get("\(fixture.base)/v1/events", headers: headers)
        #expect(refused.status == 401)
        #expect((try refused.json()["error"] as? [String: Any])?["message"] as? String == "unknown or revoked token")
        // The name is free again; the revoked one stays listed with --all.
        _ = try await tokens.create(name: "priya-laptop", role: .editor)
        let all = try await tokens.list(includeRevoked: true).filter { $0.name == "priya-laptop" }
        #expect(all.count == 2)
        #expect(all.filter { $0.revokedAt != nil }.count == 1)
        await fixture.close()
    }

    @Test func rolesAreOrdered() {
        #expect(Role.reader < .annotator && Role.annotator < .editor && Role.editor < .admin)
        #expect(Role(rawValue: "owner") == nil)
    }

    /// The Authorization header: `Bearer` in any case, then the token (spaces and tabs around
    /// it trimmed); anything else is refused.
    @Test func bearerCredentialsAreReadFromTheHeader() {
        #expect(Authenticator.bearerCredentials("Bearer folio_abc").map(String.init) == "folio_abc")
        #expect(Authenticator.bearerCredentials("bearer folio_abc").map(String.init) == "folio_abc")
        #expect(Authenticator.bearerCredentials("BEARER folio_abc").map(String.init) == "folio_abc")
        #expect(Authenticator.bearerCredentials("  Bearer  folio_abc\t").map { Authenticator.trimmed($0) } == "folio_abc")
        #expect(Authenticator.bearerCredentials("Basic Zm9vOmJhcg==") == nil)
        #expect(Authenticator.bearerCredentials("Bearer") == nil)
        #expect(Authenticator.bearerCredentials("Bearer ") == nil)
        #expect(Authenticator.bearerCredentials("Bearers folio_abc") == nil)
        #expect(Authenticator.bearerCredentials("Béarer folio_abc") == nil)
        #expect(Authenticator.bearerCredentials("") == nil)
    }
}

/// Times in answers are RFC 3339 in UTC with PostgreSQL's microseconds (SPEC §9).
@Suite("Timestamps")
struct TimestampTests {
    @Test func rfc3339WithMicroseconds() {
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_768_032_000)) == "2026-01-10T08:00:00Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_768_032_000.123456)) == "2026-01-10T08:00:00.123456Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_768_032_059.9999999)) == "2026-01-10T08:01:00Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }
}
