#include "prawmp/Handler.h"

namespace prawmp {

// Out of line so the vtable lives in the library.
Handler::~Handler() = default;

} // namespace prawmp
