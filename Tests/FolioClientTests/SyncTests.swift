import FolioClient
import FolioCore
import FolioServer
import FolioTestSupport
import Foundation
import Testing

/// Sync against a real server over a real PostgreSQL, with several client homes as machines.
@Suite("Client sync", .serialized)
struct SyncTests {
    /// What must agree between replicas: text, revision, and each annotation's anchor.
    static func snapshot(_ machine: Machine, _ article: String) async throws -> String {
        let shown = try await machine.object(["show", article, "--annotations"])
        let annotations = (shown["annotations"] as? [[String: Any]] ?? []).map { annotation -> String in
            let anchor = annotation["anchor"] as? [String: Any] ?? [:]
            return "\(annotation["id"] ?? "") \(annotation["body"] ?? "") \(anchor["start"] ?? "")-\(anchor["end"] ?? "") \(anchor["status"] ?? "")"
        }.sorted()
        return "r\(shown["revision"] ?? "") \(shown["title"] ?? "")\n\(shown["text"] ?? "")\n" + annotations.joined(separator: "\n")
    }

    @Test("two machines edit and annotate offline; after syncing in both orders all agree", arguments: [false, true])
    func twoMachines(reversed: Bool) async throws {
        let server = try await SyncServer.start("two")
        defer { Task { await server.close() } }
        let a = try Machine("a"), b = try Machine("b")
        for (machine, device) in [(a, "laptop"), (b, "desktop")] {
            #expect(try await machine.run(["login", "--server", server.base, "--token", server.tokens[.editor]!, "--device", device]).status == 0)
        }
        let path = try a.file("barish.txt", "दिल्ली में बारिश\n\n" + Texts.hindi + "\n" + Texts.english)
        _ = try await a.object(["import", path])
        let first = try await a.object(["sync"])
        #expect(first["pushed"] as? Int == 1)
        _ = try await b.object(["sync"])
        #expect(try await Self.snapshot(a, "barish") == Self.snapshot(b, "barish"))

        // Offline on both: annotations, merging edits, and one conflicting pair (भारी).
        _ = try await a.object(["annotate", "barish", "--quote", Texts.qaPrecomposed + "ुतुब मीनार", "--note", "स्मारक", "--tag", "place"])
        _ = try await a.object(["edit", "barish", "--replace", "भारी बारिश", "--with", "मूसलाधार बारिश"])
        _ = try await a.object(["annotate", "barish", "--quote", "मूसलाधार", "--note", "on my own pending edit"])
        _ = try await a.object(["edit", "barish", "--replace", "🚗", "--with", "🚕"])
        _ = try await b.object(["annotate", "barish", "--quote", "क्षेत्र", "--note", "region"])
        _ = try await b.object(["edit", "barish", "--replace", "भारी", "--with", "तेज़"])
        _ = try await b.object(["edit", "barish", "--replace", "यातायात धीमा", "--with", "यातायात बहुत धीमा"])
        _ = try await b.object(["annotate", "barish", "--quote", "heavy rain", "--note", "check 👀"])

        let order = reversed ? [b, a, b, a] : [a, b, a, b]
        for machine in order {
            let outcome = try await machine.run(["sync", "--json"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        let fresh = try Machine("fresh")
        _ = try await fresh.run(["login", "--server", server.base, "--token", server.tokens[.reader]!])
        #expect(try await fresh.run(["sync"]).status == 0)

        let expected = try await Self.snapshot(fresh, "barish")
        #expect(try await Self.snapshot(a, "barish") == expected)
        #expect(try await Self.snapshot(b, "barish") == expected)
        #expect(expected.contains("क्षेत्र"))
        #expect(expected.contains("🚕"))
        #expect(expected.contains("बहुत धीमा"))
        // The server's read models (the projector, same core code) show the same.
        let revision = try #require(try await fresh.object(["show", "barish"])["revision"] as? Int)
        #expect(try await server.readModelSnapshot("barish", revision: revision) == expected)

        // The second to push its edit of भारी lost: one conflict, listed by status, on that machine only.
        let loser = reversed ? a : b
        let winner = reversed ? b : a
        let loserStatus = try await loser.object(["status"])
        let conflicts = try #require(loserStatus["conflicts"] as? [[String: Any]])
        #expect(conflicts.count == 1)
        #expect((conflicts.first?["conflictsWith"] as? [Int])?.isEmpty == false)
        #expect(loserStatus["pending"] as? Int == 0)
        let winnerStatus = try await winner.object(["status"])
        #expect((winnerStatus["conflicts"] as? [Any])?.isEmpty == true)
        #expect(winnerStatus["pending"] as? Int == 0)
        #expect(try await server.duplicateIds() == 0)
        // 1 created + 4 annotations + 3 edits (one recorded as EditConflicted). When a's
        // edit loses, its annotation of the text that edit inserted cannot be placed: it is
        // kept as rejected and listed, not dropped silently.
        #expect(try await server.count() == (reversed ? 8 : 9))
        #expect((loserStatus["rejected"] as? [Any])?.count == (reversed ? 1 : 0))
    }

    @Test("the server down: exit 69, outbox kept and listed; server back: it drains")
    func serverDown() async throws {
        let machine = try Machine("down")
        let path = try machine.file("rain.txt", "Rain\n" + Texts.english)
        _ = try await machine.object(["import", path])
        _ = try await machine.object(["annotate", "rain", "--quote", "Qutub Minar", "--note", "landmark"])
        #expect(try await machine.run(["login", "--server", "http://127.0.0.1:9", "--token", "x"]).status == 0)
        #expect(try await machine.run(["sync"]).status == 69)
        #expect(try await machine.object(["status"])["pending"] as? Int == 2)
        #expect(try await machine.object(["show", "rain"])["text"] as? String == Texts.english)

        let server = try await SyncServer.start("down")
        defer { Task { await server.close() } }
        #expect(try await machine.run(["login", "--server", server.base, "--token", server.tokens[.editor]!]).status == 0)
        let sync = try await machine.object(["sync"])
        #expect(sync["pushed"] as? Int == 2)
        let status = try await machine.object(["status"])
        #expect(status["pending"] as? Int == 0)
        #expect(status["lastSync"] is String)
        #expect(try await server.count() == 2)
    }

    @Test("a sync killed midway, run again: nothing lost, nothing doubled")
    func killedSync() async throws {
        let server = try await SyncServer.start("kill")
        defer { Task { await server.close() } }
        let machine = try Machine("kill")
        _ = try await machine.run(["login", "--server", server.base, "--token", server.tokens[.editor]!])
        let path = try machine.file("k.txt", "बारिश\n" + Texts.hindi)
        _ = try await machine.object(["import", path])
        _ = try await machine.object(["sync"])
        let workspace = try machine.workspace()
        let articleId = try workspace.resolve("k")
        let words = ["बारिश", "मीनार", "क्षेत्र", "यातायात", "त्रिलोकपुरी", "सड़कें", "नदी", "लोगों"]
        for index in 0..<400 {
            _ = try workspace.annotate(articleId, quote: words[index % words.count], occurrence: 1, prefix: nil, suffix: nil, note: "note \(index)", tags: [])
        }
        for delay in [150, 400] {
            let child = try machine.start(["sync"])
            try await Task.sleep(for: .milliseconds(delay))
            child.send(SIGKILL)
            _ = try? await child.wait()
        }
        let outcome = try await machine.run(["sync", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try await server.count() == 401)
        #expect(try await server.duplicateIds() == 0)
        #expect(try workspace.replica.eventCount() == 401)
        #expect(try workspace.status().pending == 0)
        #expect(try workspace.view(articleId).annotations.count == 400)
    }

    @Test("an annotator's edit is refused for its role: kept as rejected, listed, sync exits 77, the rest goes through")
    func rejectedForRole() async throws {
        let server = try await SyncServer.start("role")
        defer { Task { await server.close() } }
        let editor = try Machine("editor"), annotator = try Machine("annotator")
        _ = try await editor.run(["login", "--server", server.base, "--token", server.tokens[.editor]!])
        _ = try await annotator.run(["login", "--server", server.base, "--token", server.tokens[.annotator]!])
        _ = try await editor.object(["import", try editor.file("r.txt", "Rain\n" + Texts.english)])
        _ = try await editor.object(["sync"])
        _ = try await annotator.object(["sync"])
        _ = try await annotator.object(["edit", "r", "--replace", "heavy", "--with", "light"])
        _ = try await annotator.object(["annotate", "r", "--quote", "Traffic", "--note", "ok"])
        let sync = try await annotator.run(["sync"])
        #expect(sync.status == 77)
        let status = try await annotator.object(["status"])
        #expect((status["rejected"] as? [Any])?.count == 1)
        #expect(status["pending"] as? Int == 0)
        #expect(try await server.count() == 2)
        // Never retried: a second sync pushes nothing and succeeds.
        let again = try await annotator.object(["sync"])
        #expect(again["pushed"] as? Int == 0)
    }
}
