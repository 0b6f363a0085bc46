import FolioCore
import FolioServer
import FolioTestSupport
import Foundation
import Testing

/// The read models over HTTP, with the projector running in the server (SPEC §5, §9).
@Suite("Read endpoints")
struct ReadEndpointTests {
    static let text = "क़ुतुब मीनार के पास बारिश। यातायात धीमा रहा।"

    /// Polls `url` until `done` holds for its JSON (the projector follows the log).
    func eventually(_ url: String, _ headers: [String: String], _ done: ([String: Any]) -> Bool) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        var reached = false
        try await Eventually.poll(every: .milliseconds(100)) {
            let response = try await HTTP.get(url, headers: headers)
            last = (try? response.json()) ?? [:]
            reached = response.status == 200 && done(last)
            return reached
        }
        if reached { return last }
        Issue.record("\(url) never got there: \(last)")
        return last
    }

    @Test func articlesHistoryAnnotationsSearchAndTimeTravel() async throws {
        let fixture = try await ServerFixture.make("reads", projector: true)
        let article = UUID(), annotation = UUID()
        let headers = fixture.headers(.reader)
        let length = ScalarText(Self.text).count
        let created = try await HTTP.post("\(fixture.base)/v1/events", json: ["events": [
            ["id": UUID().uuidString, "type": "ArticleCreated",
             "data": ["articleId": article.uuidString, "slug": "qutub-barish", "title": "बारिश", "language": "hi", "text": Self.text]],
            ["id": UUID().uuidString, "type": "AnnotationAdded",
             "data": ["annotationId": annotation.uuidString, "articleId": article.uuidString, "revision": 1,
                      "target": ["start": 0, "end": 6, "exact": "क़ुतुब".precomposedStringWithCanonicalMapping, "prefix": "", "suffix": " मीनार"],
                      "body": "नाम की वर्तनी जाँचें", "tags": ["fact-check"], "motivation": "commenting"]],
        ]], headers: fixture.headers(.editor))
        #expect(created.status == 200, "\(created.text)")
        let firstTime = Date()
        try await Task.sleep(for: .milliseconds(50))
        let edited = try await HTTP.post("\(fixture.base)/v1/events", json: ["events": [
            ["id": UUID().uuidString, "type": "ArticleEdited",
             "data": ["articleId": article.uuidString, "baseRevision": 1, "ops": ["आज ", length], "summary": "आज जोड़ा"]],
        ]], headers: fixture.headers(.editor))
        #expect(edited.status == 200, "\(edited.text)")
        let base = "\(fixture.base)/v1/articles/\(article.uuidString.lowercased())"

        let current = try await eventually(base, headers) { $0["revision"] as? Int == 2 }
        #expect(Set(current.keys) == ["id", "slug", "title", "language", "text", "revision", "updatedAt", "archived"])
        #expect((current["text"] as? String)?.hasPrefix("आज क़ुतुब".precomposedStringWithCanonicalMapping) == true)
        #expect(current["archived"] as? Bool == false)
        #expect((current["updatedAt"] as? String)?.hasSuffix("Z") == true)
        // By slug, at a revision, at a time.
        #expect(try await HTTP.get("\(fixture.base)/v1/articles/qutub-barish", headers: headers).json()["id"] as? String == article.uuidString.lowercased())
        let first = try await HTTP.get("\(base)?revision=1", headers: headers).json()
        #expect((first["text"] as? String)?.unicodeScalars.elementsEqual(Self.text.precomposedStringWithCanonicalMapping.unicodeScalars) == true)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let atFirst = try await HTTP.get("\(base)?at=\(formatter.string(from: firstTime))", headers: headers).json()
        #expect(atFirst["revision"] as? Int == 1)
        #expect(try await HTTP.get("\(base)?at=1999-01-01T00:00:00Z", headers: headers).status == 404)

        let history = try #require(try JSONSerialization.jsonObject(with: try await HTTP.get("\(base)/history", headers: headers).body) as? [[String: Any]])
        #expect(history.map { $0["revision"] as? Int } == [1, 2])
        #expect(history.map { $0["type"] as? String } == ["ArticleCreated", "ArticleEdited"])
        #expect(history[1]["author"] as? String == "test-editor")
        #expect(history[1]["summary"] as? String == "आज जोड़ा")

        let annotations = try #require(try JSONSerialization.jsonObject(with: try await HTTP.get("\(base)/annotations", headers: headers).body) as? [[String: Any]])
        #expect(annotations.count == 1)
        let anchor = try #require(annotations.first?["anchor"] as? [String: Any])
        #expect(anchor["status"] as? String == "anchored")
        #expect(anchor["start"] as? Int == 3)
        #expect(annotations.first?["author"] as? String == "test-editor")
        #expect((annotations.first?["target"] as? [String: Any])?["start"] as? Int == 0)
        #expect(try await HTTP.get("\(base)/annotations?status=orphaned", headers: headers).text == "[]")

        let list = try await HTTP.get("\(fixture.base)/v1/articles?limit=10", headers: headers).json()
        #expect((list["articles"] as? [[String: Any]])?.count == 1)
        let search = try await HTTP.get("\(fixture.base)/v1/search?q=\("वर्तनी".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!)", headers: headers).json()
        let hits = try #require(search["results"] as? [[String: Any]])
        #expect(hits.first?["kind"] as? String == "annotation")
        #expect(hits.first?["annotationId"] as? String == annotation.uuidString.lowercased())
        let words = try await HTTP.get("\(fixture.base)/v1/search?q=\("बारिश".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!)", headers: headers).json()
        #expect((words["results"] as? [[String: Any]])?.contains { $0["kind"] as? String == "article" } == true)

        // Errors.
        #expect(try await HTTP.get("\(fixture.base)/v1/articles/\(UUID().uuidString)", headers: headers).status == 404)
        #expect(try await HTTP.get("\(fixture.base)/v1/articles/no-such-slug/history", headers: headers).status == 404)
        #expect(try await HTTP.get("\(base)?revision=0", headers: headers).status == 400)
        #expect(try await HTTP.get("\(base)?revision=99", headers: headers).status == 404)
        #expect(try await HTTP.get("\(base)?at=yesterday", headers: headers).status == 400)
        #expect(try await HTTP.get("\(base)/annotations?status=lost", headers: headers).status == 400)
        #expect(try await HTTP.get("\(fixture.base)/v1/search?q=", headers: headers).status == 400)
        #expect(try await HTTP.get(base).status == 401)

        // The projector's lag is a metric.
        let metrics = try await HTTP.get("\(fixture.base)/metrics").text
        #expect(metrics.contains("folio_projector_lag_events 0"))
        #expect(metrics.contains("folio_projector_active 1"))
        await fixture.close()
    }
}
