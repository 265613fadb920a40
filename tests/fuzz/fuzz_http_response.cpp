// libFuzzer target: the wire module's response parser (core/src/HttpWire),
// which reads the upstream's answers and the daemon's answers to
// MultiprocessHandler. The first byte picks HEAD or not, where the input is
// cut, and whether the peer closes at the end.
//
// Checked beyond "no crash, no sanitizer report": a complete answer has a
// final status, no body for HEAD/204/304, and the same result whatever the
// cuts; a streamed body (onBody) receives exactly the bytes a whole body would.
#include "FuzzSupport.h"

#include "HttpWire.h"

using namespace prawmp;
using namespace prawmp::wire;

namespace {

struct Outcome
{
    ResponseParser::Status status = ResponseParser::Status::NeedMore;
    Response response;
    QByteArray streamed;
    bool keepAlive = false;
};

Outcome run(const uint8_t *data, size_t size, uint8_t seed, bool head, bool eof, bool stream)
{
    ResponseParser parser(4096);
    parser.reset(head);
    Outcome out;
    if (stream) {
        parser.onHead = [&] {
            parser.onBody = [&](const QByteArray &bytes) { out.streamed += bytes; };
        };
    }
    fuzz::forEachPiece(data, size, seed, 6, [&](const uint8_t *piece, size_t n) {
        out.status = parser.feed(reinterpret_cast<const char *>(piece), qsizetype(n));
    });
    if (eof)
        out.status = parser.finishAtEof();
    out.keepAlive = parser.keepAlive();
    if (out.status == ResponseParser::Status::Complete)
        out.response = parser.takeResponse();
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::initApplication();
    if (size < 1)
        return 0;
    const uint8_t seed = data[0];
    const bool head = seed & 1;
    const bool eof = seed & 2;
    ++data;
    --size;

    const Outcome whole = run(data, size, 0, head, eof, false);
    const Outcome cut = run(data, size, seed, head, eof, false);
    const Outcome streamed = run(data, size, seed, head, eof, true);
    PRAWMP_FUZZ_CHECK(whole.status == cut.status);
    PRAWMP_FUZZ_CHECK(whole.status == streamed.status);
    if (whole.status == ResponseParser::Status::Complete) {
        const int status = whole.response.status;
        PRAWMP_FUZZ_CHECK(status / 100 != 1); // interim answers are never the answer
        if (head || status == 204 || status == 304)
            PRAWMP_FUZZ_CHECK(whole.response.body.isEmpty());
        PRAWMP_FUZZ_CHECK(whole.response == cut.response);
        PRAWMP_FUZZ_CHECK(whole.keepAlive == cut.keepAlive);
        PRAWMP_FUZZ_CHECK(streamed.response.body.isEmpty());
        PRAWMP_FUZZ_CHECK(streamed.streamed == whole.response.body);
        PRAWMP_FUZZ_CHECK(!whole.response.headers.contains("transfer-encoding"));
    }
    return 0;
}
