import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// What the server refuses mid-statement, said as sentences: a statement past its time limit
/// and a filter that ICU accepts but PostgreSQL's regular expressions (AREs) do not.
@Suite("PostgreSQL: statements the server refuses")
struct PostgresStatementTests {
    @Test("a statement past statement_timeout is StorageFault.timedOut (a 503), said as a sentence", .postgresOnly)
    func statementTimeout() async throws {
        let test = try TestGatehouse()
        do {
            _ = try await test.gatehouse.database.read { tx in
                try tx.execute("SET LOCAL statement_timeout = 50")
                return try tx.fetchScalar(Int64.self, "SELECT 1 FROM pg_sleep(30)")
            }
            Issue.record("pg_sleep(30) ran past a 50 ms statement_timeout")
        } catch {
            #expect(StorageFault.classify(error) == .timedOut, "\(error)")
            #expect(test.gatehouse.database.explain(error).contains("ran past its time limit; nothing was changed"))
        }
    }

    @Test("a filter ICU accepts and PostgreSQL refuses (\\p{L}) is a sentence naming why, not a database error", .postgresOnly)
    func refusedRegularExpression() async throws {
        let test = try TestGatehouse()
        _ = try await test.apiLogin("a@example.com")
        let filter = TextFilter(pattern: #"\p{L}+@"#)
        #expect(filter.problem == nil, "ICU reads it")
        do {
            _ = try await test.gatehouse.sessions.list(.init(text: filter))
            Issue.record("PostgreSQL ran \\p{L}")
        } catch {
            let sentence = test.gatehouse.database.explain(error)
            #expect(sentence.contains("not a regular expression PostgreSQL can run") && sentence.contains("invalid"), "\(sentence)")
            #expect(!sentence.contains("database error"))
        }
        // What both engines read alike still filters.
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(pattern: #"a@exam[p]le\.com"#))).count == 1)
    }
}
