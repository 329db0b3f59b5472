import Kite
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves the gRPC calls of one HTTP/2 connection straight from its frames: each stream is a
/// ``GRPCServerStream`` in a table, not a child channel with a pipeline of its own — what a call
/// costs in SwiftNIO's HTTP/2 is then its frames and its state machine, nothing more.
///
/// Sits after SwiftNIO's `NIOHTTP2Handler`, which parses, validates and keeps the connection's
/// and the streams' states (flow control of what is sent included). What a stream child channel
/// would do, this handler does: reopens the caller's windows as data is taken (a stream's window
/// stays shut while its reader is behind, so HTTP/2 holds a fast caller back), and tells a
/// stream when it has closed. On graceful shutdown (`ChannelShouldQuiesceEvent`) it sends
/// `GOAWAY` naming the last call it took — later ones are refused, and the caller may retry them
/// elsewhere — and closes the connection once the calls in flight have ended.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let shared: GRPCServerStream.Shared
    private let targetWindowSize: Int
    private var streams: [HTTP2StreamID: GRPCServerStream] = [:]
    private var peer: GRPCPeer?
    private var executor: EventLoopTaskExecutor?
    /// The inbound window of each stream whose reader is behind, to reopen when it catches up.
    private var heldWindows: [HTTP2StreamID: Int] = [:]
    /// The highest stream a call was taken on, for `GOAWAY`.
    private var lastStreamID = HTTP2StreamID.rootStream
    private var quiescing = false

    /// - Parameter targetWindowSize: The window the caller is given, per stream and for the
    ///   connection (the `SETTINGS_INITIAL_WINDOW_SIZE` sent).
    init(shared: GRPCServerStream.Shared, targetWindowSize: Int) {
        self.shared = shared
        self.targetWindowSize = targetWindowSize
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.executor = EventLoopTaskExecutor(context.eventLoop)
        self.peer = GRPCPeer(context.channel.remoteAddress)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let stream = self.streams[frame.streamID] {
                stream.receiveHeaders(headers.headers, endStream: headers.endStream)
            } else if let executor = self.executor {
                let stream = GRPCServerStream(
                    id: frame.streamID,
                    shared: self.shared,
                    peer: self.peer,
                    connection: self,
                    context: context,
                    executor: executor
                )
                self.streams[frame.streamID] = stream
                self.lastStreamID = max(self.lastStreamID, frame.streamID)
                stream.receiveHeaders(headers.headers, endStream: headers.endStream)
            }
        case .data(let payload):
            self.streams[frame.streamID]?.receiveData(payload)
        default:
            break  // the connection's own frames are NIOHTTP2Handler's; a reset closes the stream
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let window as NIOHTTP2WindowUpdatedEvent:
            if let size = window.inboundWindowSize { self.inboundWindowChanged(window.streamID, to: size, context: context) }
        case let closed as StreamClosedEvent:
            if !self.heldWindows.isEmpty { self.heldWindows.removeValue(forKey: closed.streamID) }
            self.streams.removeValue(forKey: closed.streamID)?.closed()
            if self.quiescing && self.streams.isEmpty { self.closeAfterFlush(context: context) }
        case is ChannelShouldQuiesceEvent:
            self.quiesce(context: context)
            return
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let streams = self.streams
        self.streams.removeAll()
        self.heldWindows.removeAll()
        for stream in streams.values { stream.closed() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream's error (a malformed header block, a frame in the wrong state) has reset that
        // stream already, and its closing reaches the stream; a connection's error closes it.
        if error is NIOHTTP2Errors.StreamError { return }
        context.close(promise: nil)
    }

    private func quiesce(context: ChannelHandlerContext) {
        guard !self.quiescing else { return }
        self.quiescing = true
        let goAway = HTTP2Frame.FramePayload.goAway(lastStreamID: self.lastStreamID, errorCode: .noError, opaqueData: nil)
        context.writeAndFlush(self.wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: goAway)), promise: nil)
        if self.streams.isEmpty { self.closeAfterFlush(context: context) }
    }

    /// Closes the connection on the loop's next turn: the frames that ended its last call are
    /// still being written when their stream reports it has closed.
    private func closeAfterFlush(context: ChannelHandlerContext) {
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.value.eventLoop.execute {
            context.value.close(promise: nil)
        }
    }

    /// Reopens the window of `stream`, held while its reader was behind.
    func reopenWindow(of stream: GRPCServerStream, context: ChannelHandlerContext) {
        guard let size = self.heldWindows.removeValue(forKey: stream.id) else { return }
        self.inboundWindowChanged(stream.id, to: size, context: context)
        context.flush()
    }

    /// The caller may send `size` more bytes on `streamID` (or the connection): once that is
    /// half the target or less, it is given the target again — unless the stream's reader is
    /// behind.
    private func inboundWindowChanged(_ streamID: HTTP2StreamID, to size: Int, context: ChannelHandlerContext) {
        guard size <= self.targetWindowSize / 2 else { return }
        if streamID != .rootStream {
            guard let stream = self.streams[streamID], !stream.finished else { return }
            if stream.readHeld {
                self.heldWindows[streamID] = size
                return
            }
        }
        let increment = self.targetWindowSize - size
        context.write(self.wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
    }
}
