import FolioClient
import FolioTestSupport
import Foundation

/// One client "machine": a home folder of its own, driven through the real `folio` binary
/// (or in process through `Workspace` for the long random test).
struct Machine {
    let name: String
    let home: URL

    init(_ name: String) throws {
        let root = ProcessInfo.processInfo.environment["FOLIO_TEST_TMPDIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory
        self.name = name
        home = root.appendingPathComponent("client-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    var environment: [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path, "FOLIO_LOG_LEVEL": "error", "EDITOR": "true"]
    }

    /// Runs `folio ARGS --home HOME`.
    func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(Repository.folioBinary, arguments + ["--home", home.path], environment: environment.merging(extra) { $1 })
    }

    /// Starts `folio ARGS --home HOME` without waiting.
    func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(Repository.folioBinary, arguments + ["--home", home.path], environment: environment)
    }

    /// Runs with `--json`, expects exit 0, and parses stdout.
    func json(_ arguments: [String]) async throws -> Any {
        let outcome = try await run(arguments + ["--json"])
        guard outcome.status == 0 else { throw MachineError.failed(arguments, outcome.status, outcome.stderr) }
        return try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8))
    }

    func object(_ arguments: [String]) async throws -> [String: Any] {
        (try await json(arguments) as? [String: Any]) ?? [:]
    }

    func workspace() throws -> Workspace {
        try Workspace(home: home)
    }

    /// Writes a file for `import` in this machine's home.
    func file(_ name: String, _ contents: String) throws -> String {
        let url = home.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

enum MachineError: Error, CustomStringConvertible {
    case failed([String], Int32, String)
    var description: String {
        switch self {
        case .failed(let arguments, let status, let stderr): return "folio \(arguments.joined(separator: " ")) exited \(status): \(stderr)"
        }
    }
}

/// Texts of our own: Hindi with nukta letters (precomposed and decomposed), conjuncts,
/// vowel signs and danda, and English with emoji.
enum Texts {
    /// `क़` typed precomposed (U+0958) — NFC turns it into क + ़.
    static let qaPrecomposed = "\u{0958}"
    static let hindi = """
        नई दिल्ली: मौसम विभाग ने आज \u{0958}ुतुब मीनार के पास भारी बारिश की चेतावनी दी। क्षेत्र में यातायात धीमा रहा। \
        त्रिलोकपुरी और ज़ाकिर नगर में पानी भर गया। लोगों ने कहा कि सड़कें नदी बन गईं।
        """
    static let english = "Rain 🌧️ in Delhi: the Met department warned of heavy rain near Qutub Minar. Traffic was slow 🚗 and the 👍🏽 crowd cheered."
}
