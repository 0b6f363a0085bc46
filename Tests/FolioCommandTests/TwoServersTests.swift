import FolioTestSupport
import Foundation
import LibPQ
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two `folio serve` processes on one database (SPEC §8): writers post to both, a live reader
/// on each follows the log, and both readers see every committed event once, in one order (G4).
@Suite("Two servers")
struct TwoServersTests {
    func folio(_ arguments: [String], _ extra: [String: String] = [:]) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(Repository.folioBinary, arguments, environment: CommandTests.environment(extra))
    }

    @Test func readersOfBothServersSeeEveryEventOnceInOneOrder() async throws {
        let url = try await TestPostgres.freshDatabase("two_servers")
        let env = ["FOLIO_DATABASE_URL": url]
        #expect(try await folio(["migrate", "up"], env).status == 0)
        let created = try await folio(["tokens", "create", "--name", "writer", "--role", "editor", "--json"], env)
        #expect(created.status == 0, "\(created.stderr)")
        let token = try #require((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"] as? String)
        let headers = ["Authorization": "Bearer \(token)"]

        var servers: [ChildProcess] = []
        var bases: [String] = []
        for _ in 0..<2 {
            let process = try ChildProcess(Repository.folioBinary, ["serve", "--listen", "127.0.0.1:0"], environment: CommandTests.environment(env))
            servers.append(process)
            bases.append(try #require(CommandTests.listeningURL(try await process.waitForOutput(containing: "listening on http://"))))
        }
        defer { servers.forEach { $0.send(SIGKILL) } }
        for base in bases { #expect(try await CommandTests.waitForStatus(200, at: "\(base)/readyz") == 200) }

        let urls = bases
        let readers = try await urls.asyncMap { try await LineStream.open("\($0)/v1/events?live=true", headers: headers) }
        let writers = 8, perWriter = 15
        // Each writer creates its own article on one server, then edits it on both, alternating.
        let accepted = try await withThrowingTaskGroup(of: [String].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let article = UUID()
                    var ids: [String] = []
                    let create: [String: Any] = [
                        "id": UUID().uuidString, "type": "ArticleCreated",
                        "data": ["articleId": article.uuidString, "slug": "lekh-\(writer)", "title": "लेख \(writer)", "language": "hi", "text": "शुरुआत।"],
                    ]
                    let first = try await HTTP.post("\(urls[writer % 2])/v1/events", json: ["events": [create]], headers: headers)
                    guard first.status == 200 else { throw URLError(.badServerResponse) }
                    ids.append((create["id"] as! String).lowercased())
                    for n in 1..<perWriter {
                        let retitle: [String: Any] = [
                            "id": UUID().uuidString, "type": "ArticleRetitled", "data": ["articleId": article.uuidString, "title": "लेख \(writer) संस्करण \(n)"],
                        ]
                        let response = try await HTTP.post("\(urls[(writer + n) % 2])/v1/events", json: ["events": [retitle]], headers: headers)
                        guard response.status == 200 else { throw URLError(.badServerResponse) }
                        ids.append((retitle["id"] as! String).lowercased())
                    }
                    return ids
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.formUnion($1) }
        }
        #expect(accepted.count == writers * perWriter)

        var orders: [[String]] = []
        for reader in readers {
            var seen: [String] = []
            for try await line in reader.objects() {
                if let event = line["event"] as? [String: Any], let id = event["id"] as? String { seen.append(id) }
                if seen.count == accepted.count { break }
            }
            reader.close()
            orders.append(seen)
        }
        #expect(orders[0].count == accepted.count)
        #expect(Set(orders[0]) == accepted)
        #expect(Set(orders[0]).count == orders[0].count, "no event twice")
        #expect(orders[0] == orders[1], "both servers' readers see one order")
        for server in servers { server.send(SIGTERM) }
        for server in servers { #expect(try await server.wait(timeout: .seconds(30)).status == 0) }
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
