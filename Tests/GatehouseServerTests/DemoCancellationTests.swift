import Foundation
import GatehouseDemo
import GatehouseServer
import GatehouseTestSupport
import Synchronization
import Testing

/// `q` in the demo cancels the traffic simulator while its requests are in flight. With
/// FoundationNetworking's URLSession that could deadlock (swiftlang/swift-corelibs-foundation#5412)
/// and the demo never exited; with async-http-client a cancelled request ends.
@Suite("Demo traffic: cancellation")
struct DemoCancellationTests {
    @Test("200 simulators started against a live server and cancelled mid-request all end")
    func cancelMidRequest() async throws {
        let fixture = try ServerFixture(configuration: { configuration in
            for name in ["magic-link-email", "magic-link-ip", "verify", "refresh"] {
                try? configuration.rateLimits.override(name, rate: "1000000/minute")
            }
        })
        try await fixture.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            var requests = 0
            for iteration in 0..<200 {
                let simulator = TrafficSimulator(options: .init(base: base, rate: 500, webhookSecret: ServerFixture.webhookSecret,
                                                                cookieName: ServerOptions.defaultCookieName))
                let ended = Mutex(false)
                let run = Task {
                    await simulator.run()
                    ended.withLock { $0 = true }
                }
                // Cancel at a different moment each time: before the first request, during one, between two;
                // every tenth run only once a request was answered (a state, not a time: on a loaded
                // machine 40 ms may pass before any answer), so some cancellations land mid-traffic.
                if iteration % 10 == 0 {
                    let answered = Date().addingTimeInterval(60)
                    while simulator.stats.snapshot.requests == 0 && Date() < answered { try await Task.sleep(for: .milliseconds(5)) }
                } else {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...40)))
                }
                run.cancel()
                // A generous guard against a hang, polled so that a hung task cannot hang the test too.
                let deadline = Date().addingTimeInterval(60)
                while !ended.withLock({ $0 }) && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
                let finished = ended.withLock { $0 }
                #expect(finished, "iteration \(iteration): the simulator did not end after cancellation")
                if !finished { break }
                requests += simulator.stats.snapshot.requests
            }
            // The cancellations landed while there was traffic to cancel.
            #expect(requests > 0, "no request was made in 200 runs")
            print("200 cancelled simulators, \(requests) requests answered before their cancellation")
        }
    }
}
