import Foundation

/// Where a client keeps its data: `--home`, else `FOLIO_HOME`, else `~/.local/share/folio` (SPEC §6).
public enum ClientHome {
    /// The folder to use for `explicit` (the `--home` flag), created if missing.
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ClientError) -> URL {
        let path: String
        if let explicit, !explicit.isEmpty {
            path = explicit
        } else if let fromEnvironment = environment["FOLIO_HOME"], !fromEnvironment.isEmpty {
            path = fromEnvironment
        } else {
            let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/share")
            path = base + "/folio"
        }
        let url = URL(fileURLWithPath: path, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .storage("cannot create the home folder \(path): \(error.localizedDescription)")
        }
        return url
    }
}
