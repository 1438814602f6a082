/* See losses_impl.h; instantiated here for float and double. */
#include <math.h>
#include <string.h>
#include "kernels.h"

#include "type_float.h"
#include "losses_impl.h"
#include "type_end.h"

#include "type_double.h"
#include "losses_impl.h"
#include "type_end.h"
