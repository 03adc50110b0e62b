build-int/obj/tests/test_core.o: tests/test_core.c src/core/alloc.h \
 src/core/parallel.h
src/core/alloc.h:
src/core/parallel.h:
