import FolioCore
import FolioServer
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

/// `POST /v1/events` against a real server on loopback and a real PostgreSQL (SPEC §4, §5, §9).
/// Every refusal is checked to leave the log unchanged.
@Suite("Append endpoint")
struct AppendEndpointTests {
    /// "क़ुतुब" typed with precomposed क़ (U+0958); NFC turns it into क + nukta.
    static let precomposed = "\u{0958}ुतुब मीनार के पास बारिश। क्षेत्र में त्रासदी टली।"
    static var nfcText: String { precomposed.precomposedStringWithCanonicalMapping }

    static func created(_ article: UUID, id: UUID = UUID(), text: String = precomposed, meta: [String: Any]? = nil) -> [String: Any] {
        var event: [String: Any] = [
            "id": id.uuidString, "type": "ArticleCreated",
            "data": ["articleId": article.uuidString, "slug": "qutub", "title": "क़ुतुब 🌧️", "language": "hi", "text": text],
        ]
        if let meta { event["meta"] = meta }
        return event
    }

    static func edited(_ article: UUID, base: Int, ops: [Any], id: UUID = UUID()) -> [String: Any] {
        ["id": id.uuidString, "type": "ArticleEdited", "data": ["articleId": article.uuidString, "baseRevision": base, "ops": ops]]
    }

    static func annotation(_ article: UUID, revision: Int, start: Int, end: Int, exact: String, id: UUID = UUID(), annotationID: UUID = UUID()) -> [String: Any] {
        [
            "id": id.uuidString, "type": "AnnotationAdded",
            "data": [
                "annotationId": annotationID.uuidString, "articleId": article.uuidString, "revision": revision,
                "target": ["start": start, "end": end, "exact": exact, "prefix": "", "suffix": ""], "body": "जाँच करें ✅",
                "tags": ["fact-check"], "motivation": "commenting",
            ],
        ]
    }

    func post(_ fixture: ServerFixture, _ events: [[String: Any]], role: Role = .editor) async throws -> HTTP.Response {
        try await HTTP.post("\(fixture.base)/v1/events", json: ["events": events], headers: fixture.headers(role))
    }

    func results(_ response: HTTP.Response) throws -> [[String: Any]] {
        try #require(try response.json()["results"] as? [[String: Any]], "\(response.status) \(response.text)")
    }

    /// The article's current text, folded from the log with the core.
    func text(_ fixture: ServerFixture, _ article: UUID) async throws -> String {
        var history: ArticleHistory?
        for recorded in try await fixture.store.readStream(FolioEvent.articleStream(article)) {
            let event = try FolioEvent.decode(type: recorded.type, schemaVersion: recorded.schemaVersion, json: recorded.data)
            if case .articleCreated(let created) = event {
                history = ArticleHistory(created: created, recordedAt: recorded.recordedAt)
            } else {
                try history?.append(event, revision: Int(recorded.revision), recordedAt: recorded.recordedAt)
            }
        }
        return try #require(history).current.text
    }

    @Test func createStoresNFCAndStampsTheAuthorFromTheToken() async throws {
        let fixture = try await ServerFixture.make("append_create")
        let article = UUID()
        let response = try await post(fixture, [Self.created(article, meta: ["author": "mallory", "client": "laptop-7"])])
        #expect(response.status == 200, "\(response.text)")
        let result = try #require(try results(response).first)
        #expect(result["status"] as? String == "appended")
        #expect(result["revision"] as? Int == 1)
        #expect(result["stream"] as? String == "article-\(article.uuidString.lowercased())")
        #expect(result["position"] as? Int != nil)
        let stored = try #require(try await fixture.store.readStream(FolioEvent.articleStream(article)).first)
        let meta = try #require(try JSONSerialization.jsonObject(with: Data(stored.metadata.utf8)) as? [String: Any])
        #expect(meta["author"] as? String == "test-editor")
        #expect(meta["client"] as? String == "laptop-7")
        // Stored in NFC: क़ as क + nukta, whichever way it was typed.
        #expect(try await text(fixture, article).unicodeScalars.elementsEqual(Self.nfcText.unicodeScalars))
        #expect(try await text(fixture, article).unicodeScalars.contains("\u{093C}"))
        await fixture.close()
    }

    /// Bodies as clients may write them: pretty-printed, keys in any order, escapes in strings,
    /// and a key written with an escape (which the server reads by re-serializing instead of
    /// from the client's bytes). Each is stored the same way, in NFC.
    @Test func dataIsReadFromTheClientsOwnTextWhateverItsLayout() async throws {
        let fixture = try await ServerFixture.make("append_layout")
        let plain = UUID(), escapedKey = UUID()
        // JSON escapes: क़ precomposed (U+0958), quotes, a newline, a tab, a backslash.
        let typed = #"\u0958ुतुब \"मीनार\" के पास\nबारिश।\t😀 \\ end"#
        let body = """
            {
              "events" : [
                {
                  "type" : "ArticleCreated",
                  "data" : { "text" : "\(typed)", "language": "hi", "title" : "क़ुतुब 🌧️",
                             "slug" : "qutub-a", "articleId" : "\(plain.uuidString)" },
                  "id" : "\(UUID().uuidString)"
                },
                { "id": "\(UUID().uuidString)", "type": "ArticleCreated",
                  "d\\u0061ta": {"articleId": "\(escapedKey.uuidString)", "slug": "qutub-b", "title": "t", "language": "hi", "text": "\(typed)"} }
              ]
            }
            """
        let response = try await HTTP.post("\(fixture.base)/v1/events", body: Data(body.utf8), headers: fixture.headers(.editor))
        #expect(response.status == 200, "\(response.text)")
        #expect(try results(response).map { $0["status"] as? String } == ["appended", "appended"])
        let expected = "\u{0915}\u{093C}ुतुब \"मीनार\" के पास\nबारिश।\t😀 \\ end"
        #expect(try await text(fixture, plain).unicodeScalars.elementsEqual(expected.unicodeScalars))
        #expect(try await text(fixture, escapedKey).unicodeScalars.elementsEqual(expected.unicodeScalars))
        await fixture.close()
    }

    @Test func resentEventsAreDuplicatesAndReusedIDsAreRefused() async throws {
        let fixture = try await ServerFixture.make("append_g3")
        let article = UUID(), id = UUID()
        let first = try results(try await post(fixture, [Self.created(article, id: id)]))[0]
        // Same id, same data (typed decomposed this time), other meta: a duplicate.
        let again = try await post(fixture, [Self.created(article, id: id, text: Self.nfcText, meta: ["client": "phone"])])
        #expect(again.status == 200)
        let duplicate = try results(again)[0]
        #expect(duplicate["status"] as? String == "duplicate")
        #expect(duplicate["revision"] as? Int == first["revision"] as? Int)
        #expect(duplicate["position"] as? Int == first["position"] as? Int)
        // Same id, other data: 409, nothing stored.
        let reused = try await post(fixture, [Self.created(article, id: id, text: "कुछ और")])
        #expect(reused.status == 409)
        let details = try #require((try reused.json()["error"] as? [String: Any])?["details"] as? [String: Any])
        #expect((details[id.uuidString.lowercased()] as? String)?.hasPrefix("event-id-reused") == true)
        #expect(try await fixture.count() == 1)
        await fixture.close()
    }

    @Test func staleEditsMergeAndOverlappingOnesAreRecordedAsConflicts() async throws {
        let fixture = try await ServerFixture.make("append_merge")
        let article = UUID()
        _ = try await post(fixture, [Self.created(article, text: "नई दिल्ली में बारिश। यातायात धीमा।")])
        let length = ScalarText("नई दिल्ली में बारिश। यातायात धीमा।").count
        // Two machines edit revision 1: one inserts at the start, one appends at the end.
        let first = try results(try await post(fixture, [Self.edited(article, base: 1, ops: ["आज ", length])]))[0]
        #expect(first["status"] as? String == "appended")
        #expect(first["revision"] as? Int == 2)
        let second = try results(try await post(fixture, [Self.edited(article, base: 1, ops: [length, " 👍🏽"])]))[0]
        #expect(second["status"] as? String == "transformed")
        #expect(second["revision"] as? Int == 3)
        let ops = try #require(second["ops"] as? [Any])
        #expect(ops.count == 2)
        #expect((ops.first as? Int) == length + 3)
        #expect(try await text(fixture, article) == "आज नई दिल्ली में बारिश। यातायात धीमा। 👍🏽")

        // Two replacements of the same word ("बारिश", at 14..<19 of revision 1): the later conflicts.
        let word = ScalarText("नई दिल्ली में ").count
        let wordLength = ScalarText("बारिश").count
        let replace = try results(try await post(fixture, [Self.edited(article, base: 3, ops: [word + 3, -wordLength, "वर्षा", length - word - wordLength + 3])]))[0]
        #expect(replace["status"] as? String == "appended")
        let clashID = UUID()
        let clash = try await post(fixture, [Self.edited(article, base: 1, ops: [word, -wordLength, "आँधी", length - word - wordLength], id: clashID)])
        #expect(clash.status == 200)
        let conflicted = try results(clash)[0]
        #expect(conflicted["status"] as? String == "conflicted")
        #expect(conflicted["id"] as? String == clashID.uuidString.lowercased())
        #expect(conflicted["revision"] as? Int == 5)
        let recorded = try await fixture.store.readStream(FolioEvent.articleStream(article), from: 5)
        #expect(recorded.map(\.type) == ["EditConflicted"])
        let data = try #require(try JSONSerialization.jsonObject(with: Data(recorded[0].data.utf8)) as? [String: Any])
        #expect(data["conflictsWith"] as? [Int] == [4])
        #expect(data["rejectedEventId"] as? String == clashID.uuidString.lowercased())
        #expect(try await text(fixture, article) == "आज नई दिल्ली में वर्षा। यातायात धीमा। 👍🏽")
        // Re-sent, the conflicted edit gets the same answer and nothing new is stored.
        let resent = try results(try await post(fixture, [Self.edited(article, base: 1, ops: [word, -wordLength, "आँधी", length - word - wordLength], id: clashID)]))[0]
        #expect(resent["status"] as? String == "conflicted")
        #expect(resent["position"] as? Int == conflicted["position"] as? Int)
        #expect(try await fixture.count() == 5)
        await fixture.close()
    }

    @Test func rolesDecideWhoMayWriteWhat() async throws {
        let fixture = try await ServerFixture.make("append_roles")
        let article = UUID()
        _ = try await post(fixture, [Self.created(article, text: "किताब पढ़ो।")])
        let before = try await fixture.count()
        #expect(try await post(fixture, [Self.created(UUID())], role: .reader).status == 403)
        #expect(try await post(fixture, [Self.created(UUID())], role: .annotator).status == 403)
        #expect(try await post(fixture, [Self.annotation(article, revision: 1, start: 0, end: 5, exact: "किताब")], role: .reader).status == 403)
        #expect(try await fixture.count() == before)

        let annotationID = UUID()
        let added = try await post(fixture, [Self.annotation(article, revision: 1, start: 0, end: 5, exact: "किताब", annotationID: annotationID)], role: .annotator)
        #expect(added.status == 200, "\(added.text)")
        let update: [String: Any] = ["id": UUID().uuidString, "type": "AnnotationUpdated", "data": ["annotationId": annotationID.uuidString, "body": "बदला"]]
        // Another annotator may not change it; its author and an editor may.
        let other = try await TokenStore(pool: fixture.admin).create(name: "someone-else", role: .annotator)
        let refused = try await HTTP.post("\(fixture.base)/v1/events", json: ["events": [update]], headers: ["Authorization": "Bearer \(other)"])
        #expect(refused.status == 403)
        #expect(try await post(fixture, [update], role: .annotator).status == 200)
        let delete: [String: Any] = ["id": UUID().uuidString, "type": "AnnotationDeleted", "data": ["annotationId": annotationID.uuidString]]
        #expect(try await post(fixture, [delete], role: .editor).status == 200)
        // Deleted: further changes name a missing annotation.
        var again = update
        again["id"] = UUID().uuidString
        #expect(try await post(fixture, [again], role: .editor).status == 404)
        await fixture.close()
    }

    @Test func badInputGetsAClearErrorAndStoresNothing() async throws {
        let fixture = try await ServerFixture.make("append_bad") { $0.maxBodyBytes = 64 * 1024; $0.maxBatchEvents = 10 }
        let article = UUID()
        _ = try await post(fixture, [Self.created(article, text: "किताब पढ़ो। क्षमा करें।")])
        let before = try await fixture.count()
        let url = "\(fixture.base)/v1/events"
        let headers = fixture.headers(.editor)
        func code(_ response: HTTP.Response) -> String? { (try? response.json()["error"] as? [String: Any])?["code"] as? String }

        let malformed = try await HTTP.post(url, body: Data(#"{"events": [{"id": "#.utf8), headers: headers)
        #expect(malformed.status == 400)
        #expect(code(malformed) == "malformed-json")
        let invalidUTF8 = try await HTTP.post(url, body: Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), headers: headers)
        #expect(invalidUTF8.status == 400)
        #expect(code(invalidUTF8) == "invalid-utf8")
        #expect(try await HTTP.post(url, body: Data(#"[1, 2]"#.utf8), headers: headers).status == 400)
        let huge = try await post(fixture, [Self.created(UUID(), text: String(repeating: "बारिश ", count: 20_000))])
        #expect(huge.status == 413)
        let many = try await post(fixture, (0..<11).map { _ in Self.created(UUID()) })
        #expect(many.status == 413)
        #expect(code(many) == "batch-too-large")

        let unknownType = try await post(fixture, [["id": UUID().uuidString, "type": "ArticleDeleted", "data": ["articleId": article.uuidString]]])
        #expect(unknownType.status == 422)
        var future = Self.created(UUID())
        future["schemaVersion"] = 9
        #expect(try await post(fixture, [future]).status == 422)
        var wrongStream = Self.created(UUID())
        wrongStream["stream"] = "article-\(UUID().uuidString.lowercased())"
        #expect(try await post(fixture, [wrongStream]).status == 422)
        var boolRevision = Self.created(UUID())
        boolRevision["expectedRevision"] = true
        #expect(try await post(fixture, [boolRevision]).status == 422)
        let missingID = try await post(fixture, [["type": "ArticleCreated", "data": [:] as [String: Any]]])
        #expect(missingID.status == 422)

        // Offsets that split a letter: between क and its vowel sign ि, inside the conjunct क्ष.
        let splitsVowel = try await post(fixture, [Self.annotation(article, revision: 1, start: 0, end: 1, exact: "क")], role: .annotator)
        #expect(splitsVowel.status == 422)
        let details = (try splitsVowel.json()["error"] as? [String: Any])?["details"] as? [String: Any]
        #expect((details?.values.first as? String)?.contains("target.end") == true, "\(splitsVowel.text)")
        let conjunctStart = ScalarText("किताब पढ़ो। ").count
        #expect(try await post(fixture, [Self.annotation(article, revision: 1, start: conjunctStart, end: conjunctStart + 2, exact: "क्")], role: .annotator).status == 422)
        let length = ScalarText("किताब पढ़ो। क्षमा करें।").count
        #expect(try await post(fixture, [Self.edited(article, base: 1, ops: [1, -1, length - 2])]).status == 422)
        #expect(try await post(fixture, [Self.edited(article, base: 1, ops: [length + 4])]).status == 422)
        #expect(try await post(fixture, [Self.annotation(article, revision: 1, start: 0, end: 5, exact: "कुछ और")], role: .annotator).status == 422)
        #expect(try await post(fixture, [Self.annotation(article, revision: 7, start: 0, end: 5, exact: "किताब")], role: .annotator).status == 422)
        #expect(try await post(fixture, [Self.edited(UUID(), base: 1, ops: [3])]).status == 404)
        #expect(try await post(fixture, [["id": UUID().uuidString, "type": "EditConflicted", "data": [
            "articleId": article.uuidString, "baseRevision": 1, "ops": [length], "conflictsWith": [1], "rejectedEventId": UUID().uuidString,
        ]]]).status == 422)
        // A stale expectedRevision refuses the whole batch with 409.
        let retitle: [String: Any] = ["id": UUID().uuidString, "type": "ArticleRetitled", "data": ["articleId": article.uuidString, "title": "नया"], "expectedRevision": 5]
        #expect(try await post(fixture, [retitle]).status == 409)
        // A batch with one bad event stores none of the good ones.
        let mixed = try await post(fixture, [Self.created(UUID()), Self.annotation(article, revision: 1, start: 0, end: 1, exact: "क")])
        #expect(mixed.status == 422)
        // No token, bad token.
        #expect(try await HTTP.post(url, json: ["events": [Self.created(UUID())]]).status == 401)
        #expect(try await HTTP.post(url, json: ["events": [Self.created(UUID())]], headers: ["Authorization": "Bearer folio_x"]).status == 401)
        #expect(try await fixture.count() == before)

        // SQL-looking text is data like any other: stored verbatim, harmless.
        let evil = "'); DROP TABLE events; -- \\x00 $1 क़"
        let stored = try await post(fixture, [Self.created(UUID(), text: evil)])
        #expect(stored.status == 200)
        #expect(try await fixture.count() == before + 1)
        await fixture.close()
    }

    @Test func oneBatchCanCreateEditAndAnnotate() async throws {
        let fixture = try await ServerFixture.make("append_batch")
        let article = UUID()
        let original = "मौसम साफ़ है।"
        let response = try await post(fixture, [
            Self.created(article, text: original),
            Self.edited(article, base: 1, ops: [ScalarText(original).count, " कल बारिश।"]),
            Self.annotation(article, revision: 2, start: 0, end: 4, exact: "मौसम"),
        ])
        #expect(response.status == 200, "\(response.text)")
        let answers = try results(response)
        #expect(answers.map { $0["status"] as? String } == ["appended", "appended", "appended"])
        #expect(answers.map { $0["revision"] as? Int } == [1, 2, 1])
        #expect(try await text(fixture, article) == "मौसम साफ़ है। कल बारिश।")
        await fixture.close()
    }
}
