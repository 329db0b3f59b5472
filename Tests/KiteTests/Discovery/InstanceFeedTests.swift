import Kite
import KiteTelemetry
import Testing

@Suite("Discovery: instance feed and static instancer")
struct InstanceFeedTests {
    @Test("a new subscriber gets the current set at once; an error keeps the last set; an unchanged set is not published; a repeated instance is kept once")
    func stateAndErrors() async throws {
        let pipeline = TestPipeline()
        let feed = InstanceFeed(service: "addsvc", backend: "test", telemetry: pipeline.telemetry)
        #expect(feed.current == nil)
        feed.update(["a:1", "b:2", "a:1"])
        var events = feed.events().makeAsyncIterator()
        let first = await events.next()
        #expect(first?.instances == ["a:1", "b:2"])
        #expect(first?.error == nil)

        feed.update(["a:1", "b:2"])  // the same list: nothing
        feed.fail(DiscoveryDown())
        let failed = await events.next()
        #expect(failed?.instances == ["a:1", "b:2"])
        #expect(failed?.error is DiscoveryDown)

        // A subscriber arriving now sees the kept set and the error.
        var late = feed.events().makeAsyncIterator()
        #expect(await late.next()?.error is DiscoveryDown)

        feed.update(["a:1", "b:2"])  // the same set again, but it ends the error: published
        let recovered = await events.next()
        #expect(recovered?.error == nil)
        #expect(recovered?.instances == ["a:1", "b:2"])

        let text = pipeline.exposition
        #expect(text.contains(#"kite_discovery_instances{service="addsvc"} 2"#))
        #expect(text.contains(#"kite_discovery_changes_total{service="addsvc"} 2"#))
        #expect(text.contains(#"kite_discovery_errors_total{service="addsvc"} 1"#))
        await pipeline.flush()
        let lines = pipeline.logs.lines
        #expect(lines.contains { $0.contains("discovery instances changed") && $0.contains("added=a:1,b:2") })
        #expect(lines.contains { $0.contains("discovery error") && $0.contains("DiscoveryDown") })

        feed.finish()
        #expect(await events.next() == nil)
        var afterFinish = feed.events().makeAsyncIterator()
        #expect(await afterFinish.next() == nil)
    }

    @Test("a static instancer reports its list, in its order, to every subscriber")
    func staticInstancer() async throws {
        let pipeline = TestPipeline()
        let instancer = StaticInstancer(service: "fixed", instances: ["h:2", "h:1"], telemetry: pipeline.telemetry)
        for _ in 0..<2 {
            var events = instancer.events().makeAsyncIterator()
            #expect(await events.next()?.instances == ["h:2", "h:1"])
        }
        #expect(pipeline.exposition.contains(#"kite_discovery_instances{service="fixed"} 2"#))
    }
}

struct DiscoveryDown: Error {}
