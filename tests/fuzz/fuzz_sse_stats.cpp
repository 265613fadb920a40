// libFuzzer target: what the client (`stats --watch`) and the dashboard
// decode from a daemon: the Server-Sent Events stream of /_mp/events
// (SseParser) and the JSON of its frames (StatsSnapshot::fromJson,
// requestRecordFromJson). A daemon answering nonsense, or something else
// listening on its port, must not crash them.
//
// Properties checked:
//  - the events do not depend on how the stream was cut into reads;
//  - fromJson(toJson(s)) is a fixed point after one round: whatever came in,
//    what we show survives being sent on unchanged.
#include "FuzzSupport.h"

#include "prawmp/SseParser.h"
#include "prawmp/StatsSnapshot.h"

#include <QJsonDocument>

using namespace prawmp;

namespace {

bool sameEvents(const QList<SseParser::Event> &a, const QList<SseParser::Event> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name || a[i].data != b[i].data || a[i].id != b[i].id)
            return false;
    }
    return true;
}

void decodeJson(const QByteArray &text)
{
    const QJsonDocument doc = QJsonDocument::fromJson(text);
    if (!doc.isObject())
        return;
    const QJsonObject object = doc.object();

    const StatsSnapshot first = StatsSnapshot::fromJson(object);
    (void)first.hitRatio();
    const QJsonObject once = first.toJson();
    const QJsonObject twice = StatsSnapshot::fromJson(once).toJson();
    PRAWMP_FUZZ_CHECK(once == twice);

    const RequestRecord record = requestRecordFromJson(object);
    const QJsonObject recordOnce = requestRecordToJson(record);
    PRAWMP_FUZZ_CHECK(requestRecordToJson(requestRecordFromJson(recordOnce)) == recordOnce);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    fuzz::initApplication();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t seed = data[0];
    const QByteArray stream(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));

    SseParser whole;
    const QList<SseParser::Event> all = whole.feed(stream);

    SseParser pieces;
    QList<SseParser::Event> collected;
    fuzz::forEachPiece(data + 1, size - 1, seed, 8, [&](const uint8_t *piece, size_t length) {
        collected += pieces.feed(QByteArray(reinterpret_cast<const char *>(piece), qsizetype(length)));
    });
    if (!whole.overflowed() && !pieces.overflowed())
        PRAWMP_FUZZ_CHECK(sameEvents(all, collected));

    for (const SseParser::Event &event : all)
        decodeJson(event.data);
    // The stream may also be a plain /_mp/stats body.
    decodeJson(stream);
    return 0;
}
