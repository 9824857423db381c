import NIOCore
import NIOHTTP1

/// Every byte the fake upstream sends, encoded once at start-up.
///
/// Responses hand out these buffers as they are (a `ByteBuffer` is copy-on-write), so a
/// request costs no encoding and no body allocation.
struct CannedResponses: Sendable {
    /// A complete non-streamed answer: its headers (`content-length` included) and body.
    struct Fixed: Sendable {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: ByteBuffer

        init(_ status: HTTPResponseStatus, _ body: ByteBuffer) {
            self.status = status
            self.body = body
            headers = ["content-type": "application/json", "content-length": String(body.readableBytes)]
        }
    }

    let completion: Fixed
    let models: Fixed
    let notFound: Fixed
    /// One `data: {...}\n\n` event per chunk, the last carrying `finish_reason` and `usage`.
    let chunks: [ByteBuffer]
    /// The same for a held stream (`"bench_hold": true`).
    let heldChunks: [ByteBuffer]
    let done: ByteBuffer
    let streamHeaders: HTTPHeaders

    init(chunkCount: Int, heldChunkCount: Int) {
        let allocator = ByteBufferAllocator()
        completion = Fixed(
            .ok,
            allocator.buffer(
                string:
                    #"{"id":"chatcmpl-fake0001","object":"chat.completion","created":1700000000,"model":"fake-model","#
                    + #""choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake upstream."},"#
                    + #""finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#
            ))
        models = Fixed(
            .ok,
            allocator.buffer(
                string:
                    #"{"object":"list","data":[{"id":"fake-model","object":"model","created":1700000000,"owned_by":"fake"}]}"#
            ))
        notFound = Fixed(
            .notFound,
            allocator.buffer(
                string:
                    #"{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":"not_found"}}"#
            ))
        chunks = Self.streamEvents(count: chunkCount, allocator: allocator)
        heldChunks = Self.streamEvents(count: heldChunkCount, allocator: allocator)
        done = allocator.buffer(string: "data: [DONE]\n\n")
        streamHeaders = ["content-type": "text/event-stream", "cache-control": "no-cache"]
    }

    private static func streamEvents(count: Int, allocator: ByteBufferAllocator) -> [ByteBuffer] {
        (0..<count).map { index in
            let prefix =
                #"data: {"id":"chatcmpl-fake0001","object":"chat.completion.chunk","created":1700000000,"#
                + #""model":"fake-model","choices":[{"index":0,"delta":"#
            let event: String
            if index == count - 1 {
                event =
                    prefix + #"{"content":"t\#(index) "},"finish_reason":"stop"}],"#
                    + #""usage":{"prompt_tokens":9,"completion_tokens":\#(count),"total_tokens":\#(9 + count)}}"#
            } else if index == 0 {
                event = prefix + #"{"role":"assistant","content":"t0 "},"finish_reason":null}]}"#
            } else {
                event = prefix + #"{"content":"t\#(index) "},"finish_reason":null}]}"#
            }
            return allocator.buffer(string: event + "\n\n")
        }
    }
}
