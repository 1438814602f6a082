/* See activations_impl.h; instantiated here for float and double. */
#include <math.h>
#include <string.h>
#include "kernels.h"

#include "type_float.h"
#include "activations_impl.h"
#include "type_end.h"

#include "type_double.h"
#include "activations_impl.h"
#include "type_end.h"
