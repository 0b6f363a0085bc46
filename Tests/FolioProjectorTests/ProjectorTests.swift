import FolioCore
import FolioProjector
import FolioStore
import FolioTestSupport
import Foundation
import LibPQ
import Testing

/// The projector against a real PostgreSQL: incremental equals rebuild, time travel, search,
/// rebuild while appends continue.
@Suite("projector", .serialized)
struct ProjectorTests {
    @Test func incrementalProjectionEqualsRebuild() async throws {
        let fixture = try await ProjectorFixture.make("incr")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 7)
        let events = try log.events(3000)
        let projector = fixture.projector(batchSize: 37)
        let running = Task { try await projector.run() }
        try await fixture.store.appendInChunks(events, maxChunk: 40, seed: 3)
        try await fixture.waitUntilCaughtUp()
        let incremental = try await fixture.dump()
        #expect(incremental.filter { $0.hasPrefix("proj_article_revisions") }.count == log.histories.values.reduce(0) { $0 + $1.revision })

        // Every article equals the core's fold of the generator's events.
        for (id, expected) in log.histories {
            let article = try #require(try await fixture.readModels.article(id: id))
            #expect(article.text.scalarsEqual(expected.current.text))
            #expect(article.title == expected.current.title)
            #expect(article.revision == expected.revision)
            #expect(article.archived == expected.current.archived)
        }

        // A rebuild (while the live projector runs) gives the same rows.
        let report = try await fixture.projector().rebuild()
        #expect(report.events == events.count)
        try await fixture.waitUntilCaughtUp()
        let rebuilt = try await fixture.dump()
        #expect(rebuilt.count == incremental.count)
        #expect(rebuilt == incremental)
        running.cancel()
        _ = await running.result
    }

    @Test func timeTravelEqualsTheFoldAtEveryRevision() async throws {
        let fixture = try await ProjectorFixture.make("travel")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 11)
        let first = try log.createArticle()
        try await fixture.store.append([first])
        let id = try #require(log.order.first)
        // ~150 revisions of one article (several snapshots), with stale edits and conflicts.
        for _ in 0..<15 {
            var batch: [NewEvent] = []
            while batch.count < 10 {
                let event = try log.next()
                if event.articleID == id && event.stream.hasPrefix("article-") && event.type != "ArticleCreated" { batch.append(event) } else if event.type == "ArticleCreated" {
                    log.order.removeAll { $0 != id }
                    log.histories = log.histories.filter { $0.key == id }
                }
            }
            try await fixture.store.append(batch)
        }
        let projector = fixture.projector(batchSize: 13)
        try await projector.rebuild()
        let history = try await fixture.foldedHistory(id)
        #expect(history.revision > 64)
        for revision in 1...history.revision {
            let expected = ArticleView(try history.state(at: revision))
            let actual = try #require(try await fixture.readModels.article(id: id, revision: revision))
            #expect(actual.text.scalarsEqual(expected.text), "revision \(revision)")
            #expect(actual == expected, "revision \(revision)")
        }
        #expect(try await fixture.readModels.article(id: id, revision: history.revision + 1) == nil)
        // At a time: the latest revision recorded then.
        for entry in history.entries.suffix(20) {
            let atTime = try #require(try await fixture.readModels.article(id: id, at: entry.recordedAt))
            #expect(atTime.revision == history.revision(at: entry.recordedAt))
        }
        #expect(try await fixture.readModels.article(id: id, at: Date(timeIntervalSince1970: 0)) == nil)
        let entries = try #require(try await fixture.readModels.history(articleId: id))
        #expect(entries.map(\.revision) == Array(1...history.revision))
    }

    @Test func searchFindsHindiAndEnglishWords() async throws {
        let fixture = try await ProjectorFixture.make("search")
        defer { Task { await fixture.close() } }
        let hindi = UUID(), english = UUID(), annotation = UUID()
        // Typed decomposed: क + ़ (U+0915 U+093C); searched precomposed (U+0958) below.
        let text = "नई दिल्ली: मौसम विभाग ने क\u{093C}ुतुब मीनार के पास चेतावनी दी। राम ने फल खाया। क्षेत्र में यातायात धीमा रहा, त्रिपुरा में भी।"
        let created = FolioEvent.articleCreated(ArticleCreated(articleId: hindi, slug: "barish", title: "दिल्ली में बारिश", language: "hi", text: text))
        let createdEnglish = FolioEvent.articleCreated(ArticleCreated(
            articleId: english, slug: "monsoon", title: "Monsoon 🌧️ arrives", language: "en", text: "Caption: Monsoon clouds over Delhi 👍🏽. Photo: AP"))
        let target = try AnnotationTarget(text: ScalarText(text), start: 0, end: 2)
        let added = FolioEvent.annotationAdded(AnnotationAdded(
            annotationId: annotation, articleId: hindi, revision: 1, target: target, body: "स्रोत की पुष्टि ज़रूरी है।", tags: ["तथ्य"], motivation: "questioning"))
        try await fixture.store.append([
            try RandomLog.new(created, metadata: #"{"author": "priya"}"#, article: hindi),
            try RandomLog.new(createdEnglish, metadata: #"{"author": "sam"}"#, article: english),
            try RandomLog.new(added, metadata: #"{"author": "meera"}"#, article: hindi),
        ])
        try await fixture.projector().rebuild()
        func kinds(_ query: String) async throws -> [String] {
            try await fixture.readModels.search(query).results.map { "\($0.kind):\($0.annotationId == nil ? $0.articleId : $0.annotationId!)" }
        }
        #expect(try await kinds("खाया") == ["article:\(hindi)"])  // the word before a danda
        #expect(try await kinds("\u{0958}ुतुब") == ["article:\(hindi)"])  // precomposed nukta finds decomposed text
        #expect(try await kinds("क्षेत्र") == ["article:\(hindi)"])
        #expect(try await kinds("त्रिपुरा") == ["article:\(hindi)"])
        #expect(try await kinds("मौसम विभाग") == ["article:\(hindi)"])
        #expect(try await kinds("monsoon DELHI") == ["article:\(english)"])
        #expect(try await kinds("बारिश") == ["article:\(hindi)"])  // in the title
        #expect(try await kinds("पुष्टि") == ["annotation:\(annotation)"])
        #expect(try await kinds("ज़रूरी") == ["annotation:\(annotation)"])
        #expect(try await kinds("तथ्य") == ["annotation:\(annotation)"])
        #expect(try await kinds("खा").isEmpty)  // words, not substrings
        #expect(try await kinds("।").isEmpty)
        // Why the document is prepared (docs/projector.md): with the cluster's C locale the
        // parser keeps the danda in the token, so the raw text misses the word.
        let raw = try await fixture.admin.query("SELECT to_tsvector('simple', \("राम ने फल खाया।")) @@ plainto_tsquery('simple', \("खाया"))").scalar(Bool.self)
        #expect(raw == false)
        try await fixture.admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        let trigrams = try await fixture.admin.query("SELECT array_to_string(show_trgm(\("खाया फल")), '|')").scalar(String.self)
        #expect(trigrams.isEmpty)  // pg_trgm ignores Devanagari in the C locale: no trigrams to index
        let hit = try #require(try await fixture.readModels.search("खाया").results.first)
        #expect(hit.snippet.contains("खाया"))

        // SPEC §9 shapes, sorted keys.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        func keys(_ value: some Encodable) throws -> [String] {
            let object = try JSONSerialization.jsonObject(with: try encoder.encode(value))
            return ((object as? [String: Any]) ?? [:]).keys.sorted()
        }
        let article = try #require(try await fixture.readModels.article(id: hindi))
        #expect(try keys(article) == ["archived", "id", "language", "revision", "slug", "text", "title", "updatedAt"])
        #expect(try await fixture.readModels.article(slug: "barish")?.id == hindi)
        let page = try await fixture.readModels.articles(limit: 1)
        #expect(try keys(page) == ["articles", "next"])
        #expect(page.articles.count == 1 && page.next != nil)
        let rest = try await fixture.readModels.articles(limit: 5, after: page.next)
        #expect(rest.articles.count == 1 && rest.next == nil)
        #expect(String(decoding: try encoder.encode(rest), as: UTF8.self).contains(#""next":null"#))
        let history = try #require(try await fixture.readModels.history(articleId: hindi))
        #expect(try keys(history[0]) == ["author", "recordedAt", "revision", "summary", "type"])
        #expect(history[0].author == "priya")
        let annotations = try #require(try await fixture.readModels.annotations(articleId: hindi))
        #expect(try keys(annotations[0]) == ["anchor", "articleId", "author", "body", "id", "motivation", "tags", "target"])
        #expect(annotations[0].author == "meera")
        #expect(annotations[0].anchor == Anchor(start: 0, end: 2, status: .anchored, revision: 1))
        #expect(try await fixture.readModels.annotations(articleId: english) == [])
        #expect(try await fixture.readModels.annotations(articleId: UUID()) == nil)
        #expect(try await fixture.readModels.annotations(articleId: hindi, status: .orphaned) == [])
        let result = try #require(try await fixture.readModels.search("पुष्टि").results.first)
        #expect(try keys(result) == ["annotationId", "articleId", "kind", "snippet"])
    }

    @Test func annotationsFollowEditsAndAnOlderRevision() async throws {
        let fixture = try await ProjectorFixture.make("anchor")
        defer { Task { await fixture.close() } }
        let id = UUID(), early = UUID(), late = UUID()
        let text = "राम ने फल खाया। Monsoon 🌧️ clouds"
        let created = FolioEvent.articleCreated(ArticleCreated(articleId: id, slug: "ram", title: "राम", language: "hi", text: text))
        let content = ScalarText(text)
        let target = try AnnotationTarget.create(in: content, quote: "फल")
        // Revision 2 inserts "मीठा " before फल (position 7): the annotation moves right.
        let insert = try TextEdit.replacing(start: 7, end: 7, with: "मीठा ", length: content.count)
        let edited = FolioEvent.articleEdited(ArticleEdited(articleId: id, baseRevision: 1, ops: insert))
        let earlyAdded = FolioEvent.annotationAdded(AnnotationAdded(annotationId: early, articleId: id, revision: 1, target: target, body: "कौन सा फल?"))
        // Made offline at revision 1, logged after revision 2: mapped through revision 2.
        let lateAdded = FolioEvent.annotationAdded(AnnotationAdded(annotationId: late, articleId: id, revision: 1, target: target, body: "देर से"))
        let meta = #"{"author": "priya"}"#
        try await fixture.store.append([try RandomLog.new(created, metadata: meta, article: id), try RandomLog.new(earlyAdded, metadata: meta, article: id)])
        let projector = fixture.projector(batchSize: 1)
        let running = Task { try await projector.run() }
        try await fixture.waitUntilCaughtUp()
        try await fixture.store.append([try RandomLog.new(edited, metadata: meta, article: id)])
        try await fixture.store.append([try RandomLog.new(lateAdded, metadata: meta, article: id)])
        try await fixture.waitUntilCaughtUp()
        let annotations = try #require(try await fixture.readModels.annotations(articleId: id))
        let expected = Anchor(start: 12, end: 14, status: .anchored, revision: 2)
        #expect(annotations.map(\.anchor) == [expected, expected])
        let article = try #require(try await fixture.readModels.article(id: id))
        let now = ScalarText(article.text)
        #expect(now.slice(12, 14) == "फल")
        running.cancel()
        _ = await running.result
    }

    @Test func rebuildWhileAppendsContinueLosesNothingAndReadersNeverGoBack() async throws {
        let fixture = try await ProjectorFixture.make("swap")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 23)
        try await fixture.store.appendInChunks(try log.events(1500), maxChunk: 30, seed: 5)
        let projector = fixture.projector(batchSize: 50)
        let running = Task { try await projector.run() }
        try await fixture.waitUntilCaughtUp()
        let tracked = Array(log.order.prefix(5))
        let before = try await Self.revisions(fixture.readModels, tracked)

        // Appends continue during the rebuild.
        let more = try log.events(1500)
        let appender = Task { try await fixture.store.appendInChunks(more, maxChunk: 10, seed: 9) }
        // A reader: never a 404, never an older revision than it saw before.
        let readModels = fixture.readModels
        let reader = Task { () -> [String] in
            var problems: [String] = []
            var seen = before
            while !Task.isCancelled {
                for id in tracked {
                    let found: ArticleView?
                    do {
                        found = try await readModels.article(id: id)
                    } catch is CancellationError {
                        break  // the test is done with this reader (cancelled mid-query)
                    }
                    guard let article = found else {
                        problems.append("404 for \(id)")
                        continue
                    }
                    if article.revision < seen[id, default: 0] { problems.append("\(id) went back from \(seen[id]!) to \(article.revision)") }
                    seen[id] = article.revision
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return problems
        }
        let report = try await fixture.projector(batchSize: 200).rebuild()
        try await appender.value
        try await fixture.waitUntilCaughtUp()
        reader.cancel()
        let problems = try await reader.value
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(report.previousGeneration != nil)

        // Nothing lost, nothing doubled: one history row per article event, revisions 1…n.
        let counts = try await fixture.admin.query("""
            SELECT count(*), count(DISTINCT (article_id, revision)), coalesce(sum(revision), 0)
              FROM proj_article_revisions WHERE generation = (SELECT active_generation FROM folio_projections)
            """)
        let logged = try await fixture.admin.query("SELECT count(*) FROM events WHERE stream_id LIKE 'article-%'").scalar(Int.self)
        #expect(try counts[0].decode(Int.self, at: 0) == logged)
        #expect(try counts[0].decode(Int.self, at: 1) == logged)
        for (id, expected) in log.histories {
            let article = try #require(try await fixture.readModels.article(id: id))
            #expect(article.revision == expected.revision)
            #expect(article.text.scalarsEqual(expected.current.text))
        }
        // Old generations' rows are gone.
        let generations = try await fixture.admin.query("SELECT count(DISTINCT generation) FROM proj_article_revisions").scalar(Int.self)
        #expect(generations == 1)
        let live = try await fixture.dump()
        try await fixture.projector().rebuild()
        #expect(try await fixture.dump() == live)
        running.cancel()
        _ = await running.result
    }

    /// The flaky failure of `timeTravelEqualsTheFoldAtEveryRevision` in parallel runs, made
    /// deterministic: a transaction left open in another database of the same cluster (xids
    /// are cluster-wide) holds back the log's read horizon (G4), so readers do not see events
    /// committed after it began. A rebuild must still swap in only a generation with every
    /// event committed before it began: it waits for the horizon instead of swapping early.
    @Test func rebuildIncludesEventsAnOpenTransactionElsewhereHidesFromReaders() async throws {
        let fixture = try await ProjectorFixture.make("horizon")
        defer { Task { await fixture.close() } }
        var log = RandomLog(seed: 41)
        try await fixture.store.appendInChunks(try log.events(200), seed: 6)
        let other = try await TestPostgres.freshDatabase("horizon-other", cluster: ProjectorFixture.cluster)
        let blocker = try Connection(configuration: TestPostgres.configuration(other))
        try blocker.execute("BEGIN")
        _ = try blocker.execute("SELECT pg_current_xact_id()")
        // Committed after the blocker took its transaction id: hidden from readers until it ends.
        try await fixture.store.appendInChunks(try log.events(300), seed: 7)
        let visible = try await fixture.store.readPage(after: .start, limit: 10_000).events.count
        #expect(visible <= 200)

        let (waits, continuation) = AsyncStream.makeStream(of: RebuildProgress.self)
        let projector = fixture.projector(batchSize: 50)
        let rebuilding = Task {
            defer { continuation.finish() }
            return try await projector.rebuild { progress in
                if progress.waitingForLog { continuation.yield(progress) }
            }
        }
        // The rebuild has folded what readers see and waits (before the fix: it swapped).
        var waited: RebuildProgress?
        for await progress in waits {
            waited = progress
            break
        }
        #expect(waited != nil, "the rebuild swapped without the events the open transaction hides")
        #expect((waited?.events ?? 0) <= 200)
        try blocker.execute("ROLLBACK")
        let report = try await rebuilding.value
        #expect(report.events == 500)

        let logged = try await fixture.admin.query("SELECT count(*) FROM events WHERE stream_id LIKE 'article-%'").scalar(Int.self)
        let revisions = try await fixture.admin.query("""
            SELECT count(*) FROM proj_article_revisions WHERE generation = (SELECT active_generation FROM folio_projections)
            """).scalar(Int.self)
        #expect(revisions == logged)
        for (id, expected) in log.histories {
            let article = try #require(try await fixture.readModels.article(id: id))
            #expect(article.revision == expected.revision)
            #expect(article.text.scalarsEqual(expected.current.text))
        }
    }

    static func revisions(_ readModels: ReadModels, _ ids: [UUID]) async throws -> [UUID: Int] {
        var result: [UUID: Int] = [:]
        for id in ids { result[id] = try await readModels.article(id: id)?.revision }
        return result
    }
}
