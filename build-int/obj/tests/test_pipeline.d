build-int/obj/tests/test_pipeline.o: tests/test_pipeline.c \
 src/core/alloc.h include/orfeas.h tests/testutil.h
src/core/alloc.h:
include/orfeas.h:
tests/testutil.h:
