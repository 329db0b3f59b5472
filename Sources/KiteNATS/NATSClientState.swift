import KiteTelemetry
import NIOCore

extension NATSClient {
    /// Everything a client shares between its callers and its connection, under one lock.
    struct State {
        enum Phase {
            case idle, running, closing, closed
        }

        /// A subscription the client holds: its sequence's continuation, or the request inbox.
        struct Subscriber {
            enum Kind {
                case stream(AsyncStream<NATSMessage>.Continuation)
                case inbox
            }

            let subject: String
            let queue: String?
            let kind: Kind
            let consumed: Counter
            var delivered = 0
            /// Messages still to come before an `UNSUB <sid> <max>` takes effect.
            var remaining: Int?
            /// Unsubscribed, waiting for the messages already on their way.
            var draining = false

            func finish() {
                if case .stream(let continuation) = self.kind { continuation.finish() }
            }
        }

        struct PendingRequest {
            let continuation: CheckedContinuation<NATSMessage, any Error>
            let subject: String
            let timeout: Duration
            let deadline: NIODeadline
        }

        /// Who waits for the answer to a `PING` (`nil`: a keep-alive ping, or a waiter that
        /// gave up; the entry keeps the order of the `PONG`s).
        struct PongWaiter {
            let id: UInt64
            let continuation: CheckedContinuation<Void, any Error>
        }

        /// Where a received message goes.
        enum Route {
            case none
            case reply(PendingRequest)
            case lateReply
            case stream(AsyncStream<NATSMessage>.Continuation, Counter, last: Bool)
        }

        /// What ``beginClosing()`` took, to be ended outside the lock.
        struct Closing {
            let channel: (any Channel)?
            let outbox: ByteBuffer
            let requests: [PendingRequest]
            let subscribers: [Subscriber]
            let pongWaiters: [CheckedContinuation<Void, any Error>]
            let connectionWaiters: [CheckedContinuation<Void, any Error>]
            let sleeper: CheckedContinuation<Void, Never>?
        }

        var phase = Phase.idle
        var channel: (any Channel)?
        var info: NATSServerInfo?
        /// What is to be written: flushed once per event-loop turn while connected, held while not.
        var outbox = ByteBuffer()
        var flushScheduled = false
        var nextSID = 1
        var subscriptions: [Int: Subscriber] = [:]
        var inboxSID: Int?
        var pongWaiters: [PongWaiter?] = []
        var requests: [UInt64: PendingRequest] = [:]
        var nextRequestID: UInt64 = 0
        var nextWaiterID: UInt64 = 0
        var connectionWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var sleeper: CheckedContinuation<Void, Never>?
        var sleepGeneration = 0
        /// When the request sweeper runs next, if it is scheduled.
        var nextSweep: NIODeadline?

        /// The channel to flush on, when a flush is due and none is scheduled yet.
        mutating func flushTarget() -> (any Channel)? {
            guard let channel = self.channel, !self.flushScheduled, self.outbox.readableBytes > 0 else { return nil }
            self.flushScheduled = true
            return channel
        }

        /// Writes a subscription change, which only the current connection needs: a connection
        /// made later gets every subscription anew.
        mutating func writeIfConnected(_ write: (inout ByteBuffer) -> Void) {
            if self.channel != nil { write(&self.outbox) }
        }

        /// Adds a subscription under a new id.
        mutating func add(_ subscriber: Subscriber) -> Int {
            let sid = self.nextSID
            self.nextSID += 1
            self.subscriptions[sid] = subscriber
            self.writeIfConnected { $0.writeNATSSubscribe(subject: subscriber.subject, queue: subscriber.queue, sid: sid) }
            return sid
        }

        /// Subscribes to `inbox*` on the first request.
        mutating func subscribeInboxIfNeeded(_ inbox: String, consumed: @autoclosure () -> Counter) {
            guard self.inboxSID == nil else { return }
            self.inboxSID = self.add(Subscriber(subject: inbox + "*", queue: nil, kind: .inbox, consumed: consumed()))
        }

        /// Writes a `PUB`/`HPUB`, or nothing when it throws: a message past the server's
        /// `max_payload` (nats-server's default before a server has said) is refused, and so is
        /// one that would take the outbox past `limit` bytes.
        mutating func writePublish(
            subject: String,
            replyTo: String?,
            headers: NATSHeaders?,
            payload: ByteBuffer,
            limit: Int
        ) throws(NATSError) {
            let start = self.outbox.writerIndex
            let size = try self.outbox.writeNATSPublish(subject: subject, replyTo: replyTo, headers: headers, payload: payload)
            let maxPayload = self.info?.maxPayload ?? NATSServerInfo.defaultMaxPayload
            if size > maxPayload {
                self.outbox.moveWriterIndex(to: start)
                throw .payloadTooLarge(size: size, maxPayload: maxPayload)
            }
            if self.outbox.readableBytes > limit {
                self.outbox.moveWriterIndex(to: start)
                throw .reconnectBufferFull(limit: limit)
            }
        }

        /// Whether a request due at `deadline` needs a sweep of its own: none is scheduled, or
        /// the next one comes later.
        mutating func sweepNeeded(by deadline: NIODeadline) -> Bool {
            if let next = self.nextSweep, next <= deadline { return false }
            self.nextSweep = deadline
            return true
        }

        /// Takes the requests due by `now`; the earliest deadline left, when the sweep after
        /// this one must be scheduled.
        mutating func removeExpiredRequests(now: NIODeadline) -> ([PendingRequest], NIODeadline?) {
            var expired: [PendingRequest] = []
            var earliest: NIODeadline?
            for (id, request) in self.requests {
                if request.deadline <= now {
                    expired.append(request)
                    self.requests[id] = nil
                } else if earliest.map({ request.deadline < $0 }) ?? true {
                    earliest = request.deadline
                }
            }
            if let scheduled = self.nextSweep, scheduled > now, let candidate = earliest, scheduled <= candidate {
                return (expired, nil)  // a sweep is already due by then
            }
            self.nextSweep = earliest
            return (expired, earliest)
        }

        /// Where `message`, received for subscription `sid`, goes.
        mutating func route(_ message: NATSMessage, to sid: Int, inbox: String) -> Route {
            guard var subscriber = self.subscriptions[sid] else { return .none }
            switch subscriber.kind {
            case .inbox:
                subscriber.consumed.increment()
                guard message.subject.hasPrefix(inbox),
                    let id = UInt64(message.subject.dropFirst(inbox.utf8.count), radix: 36),
                    let request = self.requests.removeValue(forKey: id)
                else { return .lateReply }
                return .reply(request)
            case .stream(let continuation):
                subscriber.delivered += 1
                var last = false
                if let remaining = subscriber.remaining {
                    subscriber.remaining = remaining - 1
                    last = remaining <= 1
                }
                self.subscriptions[sid] = last ? nil : subscriber
                return .stream(continuation, subscriber.consumed, last: last)
            }
        }

        /// Marks the client closing and takes everything that waits on it.
        mutating func beginClosing() -> Closing {
            self.phase = .closing
            defer {
                self.requests = [:]
                self.subscriptions = [:]
                self.pongWaiters = []
                self.connectionWaiters = [:]
                self.sleeper = nil
                self.outbox = ByteBuffer()
            }
            return Closing(
                channel: self.channel,
                outbox: self.outbox,
                requests: Array(self.requests.values),
                subscribers: Array(self.subscriptions.values),
                pongWaiters: self.pongWaiters.compactMap { $0?.continuation },
                connectionWaiters: Array(self.connectionWaiters.values),
                sleeper: self.sleeper
            )
        }
    }
}
