// Forwarding header: the vocabulary types are public (include/attnjit/), codegen builds on them.
#pragma once
#include "attnjit/target.h"
