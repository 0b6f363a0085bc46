import FolioTestSupport
import Foundation
import Testing

@testable import FolioCore

/// `FastEventDecoder` (behind `FolioEvent.decode(type:schemaVersion:json:)`) against
/// `JSONDecoder` (behind `decode(type:schemaVersion:data:)`): the same value, scalar for
/// scalar, or the same error, on every input.
@Suite("Fast event decoder")
struct FastEventDecoderTests {
    static let article = "6f1c2e4a-8b3d-4e5f-9a1b-2c3d4e5f6a7b"
    static let annotation = "0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"

    /// Decodes `json` both ways and checks they agree; returns whether the fast path read it.
    @discardableResult
    static func agree(_ type: String, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let slow: Result<FolioEvent, EventValidationError>
        do throws(EventValidationError) {
            slow = .success(try FolioEvent.decode(type: type, schemaVersion: 1, data: Data(json.utf8)))
        } catch {
            slow = .failure(error)
        }
        let fast: Result<FolioEvent, EventValidationError>
        do throws(EventValidationError) {
            fast = .success(try FolioEvent.decode(type: type, schemaVersion: 1, json: json))
        } catch {
            fast = .failure(error)
        }
        switch (slow, fast) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(json)", sourceLocation: sourceLocation)
            // `==` on strings is canonical equivalence: compare the scalars through the encoding.
            #expect((try? a.encodedData()) == (try? b.encodedData()), "\(json)", sourceLocation: sourceLocation)
        case (.failure(let a), .failure(let b)):
            #expect(a == b, "\(json)", sourceLocation: sourceLocation)
        default:
            Issue.record("JSONDecoder: \(slow), fast: \(fast), input \(json)", sourceLocation: sourceLocation)
        }
        return FastEventDecoder.decode(type: type, json: json) != nil
    }

    @Test func readsTheLogsJSONBText() {
        // As PostgreSQL's jsonb prints them: ", " and ": ", keys by length.
        #expect(Self.agree("ArticleEdited", #"{"ops": [74, " शब्द"], "articleId": "\#(Self.article)", "baseRevision": 3}"#))
        #expect(Self.agree("ArticleEdited", #"{"ops": [2, "नया\nपाठ", -1, 5], "summary": "सुधार", "articleId": "\#(Self.article)", "baseRevision": 12}"#))
        #expect(Self.agree("ArticleEdited", #"{"ops": ["शुरू "], "summary": null, "articleId": "\#(Self.article)", "baseRevision": 1}"#))
        #expect(Self.agree(
            "AnnotationAdded",
            #"{"body": "स्रोत? 15", "tags": ["जाँच"], "target": {"end": 2, "exact": "नई", "start": 0, "prefix": "", "suffix": " दिल्ली"}, "articleId": "\#(Self.article)", "revision": 5, "motivation": "commenting", "annotationId": "\#(Self.annotation)"}"#))
        #expect(Self.agree(
            "ArticleCreated",
            #"{"slug": "a1", "text": "नई दिल्ली: मौसम विभाग ने आज भारी बारिश की चेतावनी दी।\nयातायात धीमा रहा।", "title": "दिल्ली में बारिश", "language": "hi", "articleId": "\#(Self.article)"}"#))
        #expect(Self.agree("ArticleRetitled", #"{"title": "नया शीर्षक 👩‍💻", "articleId": "\#(Self.article)"}"#))
        #expect(Self.agree("ArticleArchived", #"{"articleId": "\#(Self.article)"}"#))
        #expect(Self.agree("AnnotationUpdated", #"{"body": "ठीक", "annotationId": "\#(Self.annotation)"}"#))
        #expect(Self.agree("AnnotationUpdated", #"{"tags": ["a", "तथ्य"], "body": null, "annotationId": "\#(Self.annotation)"}"#))
        #expect(Self.agree("AnnotationDeleted", #"{"annotationId": "\#(Self.annotation)"}"#))
    }

    @Test func escapesEmojiAndNormalization() {
        let id = Self.article
        // Escapes of every kind, in inserts and summaries; a surrogate pair; Devanagari by \u.
        for insert in [
            #"\"उद्धरण\" \\ \/ \b\f\n\r\t"#, #"\u0915\u093C"#, #"\u0958ुतुब"#, #"\ud83d\ude00 😀 👍🏽 🇮🇳"#, #"e\u0301"#, #"\u00e9"#,
            #"tab\there"#, #"\u0000"#, #"\u001f"#, "क\u{093C}", "\u{0958}", "\u{095B}रूरी", "a\u{0301}", "ﬁ", "Å", "\u{2126}",
        ] {
            #expect(Self.agree("ArticleEdited", #"{"ops": [3, "\#(insert)", -2], "summary": "\#(insert)", "articleId": "\#(id)", "baseRevision": 2}"#))
        }
        // Lone surrogates, bad escapes: JSONDecoder decides.
        for insert in [#"\ud83d"#, #"\ude00"#, #"\ud83dx"#, #"\ud83d\u0041"#, #"\x"#, #"\u12"#, #"\u12G4"#] {
            #expect(!Self.agree("ArticleEdited", #"{"ops": [3, "\#(insert)"], "articleId": "\#(id)", "baseRevision": 2}"#))
        }
        // Precomposed nukta letters (composition exclusions) come out decomposed either way.
        #expect(Self.agree(
            "AnnotationAdded",
            #"{"annotationId":"\#(Self.annotation)","articleId":"\#(id)","revision":1,"target":{"start":0,"end":2,"exact":"\u0958","prefix":"","suffix":""},"body":"\u095Bरूरी","tags":[],"motivation":"commenting"}"#))
    }

    @Test func oddInputsGoToJSONDecoder() {
        let id = Self.article
        let odd: [(String, String)] = [
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2, "extra": 1}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2, "baseRevision": 3}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2.0}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2e0}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 02}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": -0}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 12345678901234567890}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": null}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": "2"}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)"}"#),
            ("ArticleEdited", #"{"ops": [0], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [""], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [1.5], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [true], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": 3, "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "not-a-uuid", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "{\#(id)}", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2} x"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2"#),
            ("ArticleEdited", #"{"ops": [3,], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"{"\u006fps": [3], "articleId": "\#(id)", "baseRevision": 2}"#),
            ("ArticleEdited", #"[3]"#),
            ("ArticleEdited", #""#),
            ("ArticleEdited", "{\"ops\": [3, \"a\u{01}\"], \"articleId\": \"\(id)\", \"baseRevision\": 2}"),
            ("ArticleCreated", #"{"slug": "a", "text": "t", "title": "T", "language": "hi", "articleId": "\#(id)", "source": {"byline": "प्रिया"}}"#),
            ("EditConflicted", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 2, "conflictsWith": [3], "rejectedEventId": "\#(Self.annotation)"}"#),
            ("AnnotationAdded", #"{"annotationId":"\#(Self.annotation)","articleId":"\#(id)","revision":1,"target":{"start":0,"end":2,"exact":"नई"},"body":"b","motivation":"commenting"}"#),
        ]
        for (type, json) in odd {
            #expect(!Self.agree(type, json), "\(json)")
        }
        // Read by the fast path, then refused by the same validation.
        let invalid: [(String, String)] = [
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id)", "baseRevision": 0}"#),
            ("ArticleEdited", #"{"ops": [3], "articleId": "\#(id.uppercased())", "baseRevision": -4}"#),
            ("AnnotationAdded", #"{"annotationId":"\#(Self.annotation)","articleId":"\#(id)","revision":1,"target":{"start":0,"end":2,"exact":"नई"},"body":"b","tags":[" "],"motivation":"Commenting"}"#),
            ("AnnotationAdded", #"{"annotationId":"\#(Self.annotation)","articleId":"\#(id)","revision":1,"target":{"start":2,"end":2,"exact":"नई","prefix":null},"body":"b","tags":[],"motivation":"commenting"}"#),
            ("AnnotationAdded", #"{"annotationId":"\#(Self.annotation)","articleId":"\#(id)","revision":1,"target":{"start":0,"end":3,"exact":"नई"},"body":"b","tags":[],"motivation":"commenting"}"#),
            ("ArticleCreated", #"{"slug": "A b", "text": "t", "title": "T", "language": "hi", "articleId": "\#(id)"}"#),
            ("ArticleRetitled", #"{"title": " ", "articleId": "\#(id)"}"#),
            ("AnnotationUpdated", #"{"annotationId": "\#(Self.annotation)"}"#),
        ]
        for (type, json) in invalid {
            #expect(Self.agree(type, json), "\(json)")
        }
    }

    @Test func randomEditsAndAnnotationsAgree() {
        var generator = SplitMix64(seed: 0x0F01_10DE)
        var fastCount = 0
        for round in 0..<400 {
            let base = RandomText.text(&generator, maxTokens: 30)
            let edit = RandomText.edit(of: base, &generator)
            let summary = Bool.random(using: &generator) ? RandomText.string(&generator, maxTokens: 6) : nil
            var members = [
                "\"articleId\"\(Self.colon(&generator))\"\(Self.article)\"",
                "\"baseRevision\"\(Self.colon(&generator))\(round % 50 + 1)",
                "\"ops\"\(Self.colon(&generator))[" + edit.operations.map { operation -> String in
                    switch operation {
                    case .retain(let n): return String(n)
                    case .delete(let n): return String(-n)
                    case .insert(let text): return Self.quoted(text, &generator)
                    }
                }.joined(separator: Self.comma(&generator)) + "]",
            ]
            if let summary { members.append("\"summary\"\(Self.colon(&generator))\(Self.quoted(summary, &generator))") }
            members.shuffle(using: &generator)
            if Self.agree("ArticleEdited", "{" + members.joined(separator: Self.comma(&generator)) + "}") { fastCount += 1 }

            let quote = RandomText.string(&generator, maxTokens: 3)
            let added = [
                "\"annotationId\":\"\(Self.annotation)\"", "\"articleId\":\"\(Self.article)\"", "\"revision\":\(round % 7 + 1)",
                "\"target\":{\"start\":1,\"end\":\(1 + quote.nfc.unicodeScalars.count),\"exact\":\(Self.quoted(quote, &generator)),\"prefix\":\(Self.quoted(RandomText.string(&generator, maxTokens: 3), &generator))}",
                "\"body\":\(Self.quoted(RandomText.string(&generator, maxTokens: 8), &generator))",
                "\"tags\":[\(Self.quoted(RandomText.string(&generator, maxTokens: 2), &generator))]", "\"motivation\":\"commenting\"",
            ].shuffled(using: &generator)
            Self.agree("AnnotationAdded", "{" + added.joined(separator: Self.comma(&generator)) + "}")
        }
        #expect(fastCount > 300)
    }

    /// `text` as a JSON string, each scalar written raw or escaped at random.
    static func quoted(_ text: String, _ generator: inout SplitMix64) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += Bool.random(using: &generator) ? "\\n" : "\\u000a"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else if Int.random(in: 0..<8, using: &generator) == 0 {
                    for unit in String(scalar).utf16 { out += String(format: "\\u%04X", unit) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func colon(_ generator: inout SplitMix64) -> String { [":", ": ", " : ", ":\n\t"].randomElement(using: &generator)! }
    static func comma(_ generator: inout SplitMix64) -> String { [",", ", ", " ,\r\n "].randomElement(using: &generator)! }

    private struct Metadata: Decodable {
        var author: String?
    }

    @Test func metadataAuthorAgrees() {
        let inputs = [
            #"{"author": "bench3", "client": "bench"}"#, #"{"client": "laptop", "author": "प्रिया 👩‍💻", "correlationId": "x"}"#,
            #"{"author": null}"#, #"{}"#, #"{"client": {"nested": [1, 2.5e3, -0.1, true, false, null, "s\n"]}, "author": "a\"b"}"#,
            #"{"author": 5}"#, #"{"author": "a", "author": "b"}"#, #"[]"#, #"{"author": "a"} x"#, #"{"other": "\u0041", "author": "a"}"#,
            #"{"author": "\u0958"}"#, #"{"other": 01, "author": "a"}"#, #"{"author": "a",}"#, #""#, #"{"author": "e\u0301"}"#,
        ]
        for json in inputs {
            let slow = try? JSONDecoder().decode(Metadata.self, from: Data(json.utf8)).author
            let fast = FastEventDecoder.metadataAuthor(json)
            if let fast {
                #expect(fast.map(scalars) == slow.map(scalars), "\(json)")
            }
        }
        #expect(FastEventDecoder.metadataAuthor(#"{"author": "bench3", "client": "bench"}"#) == .some("bench3"))
        #expect(FastEventDecoder.metadataAuthor(#"{"client": "bench"}"#) == .some(nil))
    }
}
