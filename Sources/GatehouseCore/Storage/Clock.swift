import Foundation
import Synchronization

/// Where every service reads "now" from.
///
/// Expiry, grace windows and rate limits are all decisions about time; injecting the clock is
/// what lets tests (and the demo) move time forward without sleeping.
public protocol GatehouseClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: GatehouseClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to. Used by tests and simulations.
public final class ManualClock: GatehouseClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

extension Date {
    /// Seconds since 1970, the representation every timestamp column uses.
    var unixSeconds: Double { timeIntervalSince1970 }

    init(unixSeconds: Double) { self.init(timeIntervalSince1970: unixSeconds) }
}
