import Foundation

/// Why the projector stopped a batch or a rebuild.
public enum ProjectorError: Error, Sendable, CustomStringConvertible {
    /// Another writer owns the generation now (its checkpoint moved, or a rebuild swapped it
    /// out): nothing of the batch was written.
    case fenced(name: String, generation: Int64, reason: String)
    /// A rebuild kept falling behind the active generation while trying to swap.
    case swapFailed(name: String, attempts: Int)
    /// The projection named is not one this code has.
    case unknownProjection(String)

    public var description: String {
        switch self {
        case .fenced(let name, let generation, let reason): return "projection \(name) generation \(generation) is fenced: \(reason)"
        case .swapFailed(let name, let attempts): return "the rebuild of \(name) could not catch up with the active generation in \(attempts) attempts"
        case .unknownProjection(let name): return "no projection named \(name) (known: \(Projector.name))"
        }
    }
}
