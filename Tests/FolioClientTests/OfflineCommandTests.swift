import FolioClient
import FolioTestSupport
import Foundation
import Testing

/// Client commands with no server: everything works offline and queues in the outbox.
@Suite("Offline client commands")
struct OfflineCommandTests {
    @Test("import, list, show, annotate, edit, log, diff, status work offline")
    func offlineRoundTrip() async throws {
        let machine = try Machine("offline")
        let path = try machine.file("Barish Khabar.txt", "दिल्ली में बारिश\n\n\n" + Texts.hindi)
        let imported = try await machine.object(["import", path])
        #expect(imported["slug"] as? String == "barish-khabar")
        #expect(imported["revision"] as? Int == 1)
        let articleId = try #require(imported["articleId"] as? String)

        // A second import of the same name gets -2; a prefix of the id names the article.
        let second = try await machine.object(["import", path, "--language", "hi"])
        #expect(second["slug"] as? String == "barish-khabar-2")

        let shown = try await machine.object(["show", String(articleId.prefix(8))])
        let text = try #require(shown["text"] as? String)
        #expect(text.scalarsEqual(Texts.hindi.precomposedStringWithCanonicalMapping))
        #expect(shown["title"] as? String == "दिल्ली में बारिश")

        // The quote typed with a precomposed क़ finds the (decomposed) NFC text.
        let annotation = try await machine.object(["annotate", "barish-khabar", "--quote", Texts.qaPrecomposed + "ुतुब मीनार", "--note", "landmark", "--tag", "place"])
        #expect(annotation["start"] as? Int == 28)
        #expect(annotation["end"] as? Int == 40)

        let edited = try await machine.object(["edit", "barish-khabar", "--replace", "भारी", "--with", "बहुत भारी"])
        #expect(edited["revision"] as? Int == 2)
        let after = try await machine.object(["show", "barish-khabar", "--annotations"])
        #expect((after["text"] as? String)?.contains("बहुत भारी") == true)
        let annotations = try #require(after["annotations"] as? [[String: Any]])
        #expect(annotations.count == 1)
        #expect((annotations[0]["anchor"] as? [String: Any])?["status"] as? String == "anchored")

        let old = try await machine.object(["show", "barish-khabar", "--revision", "1"])
        #expect((old["text"] as? String)?.contains("बहुत") == false)
        let log = try #require(try await machine.json(["log", "barish-khabar"]) as? [[String: Any]])
        #expect(log.map { $0["revision"] as? Int } == [1, 2])
        let diff = try await machine.object(["diff", "barish-khabar", "--from", "1", "--to", "2"])
        #expect(diff["ops"] as? [Any] != nil)

        // Deleting with --with "", and a vowel-sign cluster replaced whole.
        _ = try await machine.object(["edit", "barish-khabar", "--replace", " धीमा", "--with", ""])
        let status = try await machine.object(["status"])
        #expect(status["pending"] as? Int == 5)
        #expect((status["conflicts"] as? [Any])?.isEmpty == true)
        #expect(status["server"] is NSNull)

        let plain = try await machine.run(["show", "barish-khabar"])
        #expect(plain.stdout.contains("[[क़ुतुब मीनार]]1"))
        #expect(!plain.stdout.contains("\u{1B}["))
    }

    @Test("bad input exits 65, usage 64, no login 64, unreachable server 69 with the outbox kept")
    func exitCodes() async throws {
        let machine = try Machine("codes")
        let path = try machine.file("news.txt", "Rain\n" + Texts.english)
        _ = try await machine.object(["import", path])
        #expect(try await machine.run(["annotate", "news", "--quote", "snow", "--note", "x"]).status == 65)
        #expect(try await machine.run(["annotate", "news", "--quote", "rain", "--note", "x"]).status == 0)
        // "the" occurs several times: ambiguous without --all/--occurrence.
        #expect(try await machine.run(["edit", "news", "--replace", "the", "--with", "a"]).status == 65)
        #expect(try await machine.run(["edit", "news", "--replace", "nothing-here", "--with", "a"]).status == 65)
        #expect(try await machine.run(["edit", "news", "--replace", "the", "--with", "a", "--occurrence", "2"]).status == 0)
        #expect(try await machine.run(["edit", "news", "--replace", "the", "--with", "a", "--all"]).status == 0)
        // Splitting the skin-tone emoji is refused; replacing it whole works.
        #expect(try await machine.run(["edit", "news", "--replace", "👍", "--with", "👎"]).status == 65)
        #expect(try await machine.run(["edit", "news", "--replace", "👍🏽", "--with", "👎🏿"]).status == 0)
        #expect(try await machine.run(["show", "nosuch"]).status == 65)
        #expect(try await machine.run(["show", "news", "--revision", "99"]).status == 65)
        #expect(try await machine.run(["show", "news", "--revision", "1", "--at", "2026-01-01T00:00:00Z"]).status == 64)
        #expect(try await machine.run(["edit", "news", "--replace", "x"]).status == 64)
        #expect(try await machine.run(["sync"]).status == 64)

        // Ambiguous id prefix: two articles, prefix "" is not allowed; use a shared first hex digit by trying all.
        _ = try await machine.object(["import", path, "--slug", "other"])
        let list = try #require((try await machine.object(["list"]))["articles"] as? [[String: Any]])
        #expect(list.count == 2)

        #expect(try await machine.run(["login", "--server", "http://127.0.0.1:9", "--token", "t"]).status == 0)
        let sync = try await machine.run(["sync"])
        #expect(sync.status == 69)
        let status = try await machine.object(["status"])
        #expect(status["pending"] as? Int == 6)
        #expect(status["server"] as? String == "http://127.0.0.1:9")
    }

    @Test("edit --file and $EDITOR turn the new text into a diff")
    func editFileAndEditor() async throws {
        let machine = try Machine("editor")
        let path = try machine.file("e.txt", "Title\nएक दो तीन")
        _ = try await machine.object(["import", path])
        let newText = try machine.file("new.txt", "एक ढाई तीन")
        let edited = try await machine.object(["edit", "e", "--file", newText])
        #expect(edited["changed"] as? Bool == true)
        // An editor script that appends a word (and a final newline, which is dropped).
        let script = try machine.file("ed.sh", "#!/bin/sh\nprintf 'एक ढाई तीन चार\\n' > \"$1\"\n")
        chmod(script, 0o755)
        // Run by /bin/sh rather than exec'd: executing a file just written can fail with
        // ETXTBSY while another test's process, forked meanwhile, still holds it open.
        let outcome = try await machine.run(["edit", "e", "--json"], environment: ["EDITOR": "/bin/sh \(script)"])
        #expect(outcome.status == 0)
        let shown = try await machine.object(["show", "e"])
        #expect(shown["text"] as? String == "एक ढाई तीन चार")
        #expect(shown["revision"] as? Int == 3)
    }
}
