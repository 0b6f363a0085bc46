import FolioClient
import FolioCore
import FolioTestSupport
import Foundation
import Testing

/// A small seeded generator (SplitMix64), so a failing run can be repeated.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Client convergence", .serialized)
struct ConvergenceTests {
    static func fingerprint(_ workspace: Workspace, _ articleId: String) throws -> String {
        let view = try workspace.view(articleId)
        let annotations = view.annotations.map { "\($0.id) \($0.body) \($0.anchor.start)-\($0.anchor.end) \($0.anchor.status.rawValue)" }.sorted()
        return "r\(view.current.revision)\n\(view.current.text)\n" + annotations.joined(separator: "\n")
    }

    @Test("three machines, hundreds of random offline edits and annotations, random sync order: all converge", arguments: [UInt64(7), 2026])
    func randomConvergence(seed: UInt64) async throws {
        var random = SeededGenerator(state: seed)
        let server = try await SyncServer.start("converge")
        defer { Task { await server.close() } }
        let machines = try (0..<3).map { try Machine("m\($0)") }
        let workspaces = try machines.map { try $0.workspace() }
        for (index, workspace) in workspaces.enumerated() {
            try workspace.login(server: server.base, token: server.tokens[.editor]!, device: "machine-\(index)")
        }
        let hindi = try workspaces[0].importArticle(file: URL(fileURLWithPath: try machines[0].file("hi.txt", "बारिश\n" + Texts.hindi)), slug: nil, language: nil)
        let english = try workspaces[0].importArticle(file: URL(fileURLWithPath: try machines[0].file("en.txt", "Rain\n" + Texts.english)), slug: nil, language: nil)
        let articles = [hindi.articleId, english.articleId]
        for workspace in workspaces { _ = try await SyncClient(replica: workspace.replica).sync() }

        let vocabulary = ["क़िला", "क़िला", "ज़मीन", "क्षेत्र", "त्रिशूल", "नदी", "बारिश।", "फ़ोटो", "rain", "flood 🌊", "👍🏽", "Delhi", "मौसम", "सड़क"]
        var operations = 0
        for _ in 0..<300 {
            let machine = Int.random(in: 0..<3, using: &random)
            let workspace = workspaces[machine]
            let articleId = articles.randomElement(using: &random)!
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 8 {
                _ = try await SyncClient(replica: workspace.replica).sync()
                continue
            }
            let text = try workspace.view(articleId).current.text
            let words = text.split(separator: " ").map(String.init).filter { !$0.isEmpty }
            guard let word = words.randomElement(using: &random) else { continue }
            do {
                if roll < 55 {
                    let replacement = roll < 20 ? "" : vocabulary.randomElement(using: &random)!
                    let with = roll < 35 ? word + " " + replacement : replacement
                    _ = try workspace.replace(articleId, old: word, with: with.isEmpty ? " " : with, all: false, occurrence: 1)
                } else {
                    _ = try workspace.annotate(articleId, quote: word, occurrence: 1, prefix: nil, suffix: nil, note: "n\(operations)", tags: ["t"])
                }
                operations += 1
            } catch {
                guard case .badInput = error else { throw error }
            }
        }
        #expect(operations > 200)
        // Everyone syncs in random order, several rounds, then a fresh machine pulls.
        for _ in 0..<3 {
            for index in Array(0..<3).shuffled(using: &random) {
                _ = try await SyncClient(replica: workspaces[index].replica).sync()
            }
        }
        let fresh = try Machine("fresh").workspace()
        try fresh.login(server: server.base, token: server.tokens[.reader]!, device: "fresh")
        _ = try await SyncClient(replica: fresh.replica).sync()
        for articleId in articles {
            let expected = try Self.fingerprint(fresh, articleId)
            for workspace in workspaces {
                #expect(try Self.fingerprint(workspace, articleId) == expected)
            }
        }
        for workspace in workspaces {
            let status = try workspace.status()
            #expect(status.pending == 0)
            #expect(try workspace.replica.eventCount() == fresh.replica.eventCount())
        }
        #expect(try await server.count() == fresh.replica.eventCount())
        #expect(try await server.duplicateIds() == 0)
    }
}
