build-mc-san/obj/src/core/parallel.o: src/core/parallel.c \
 src/core/parallel.h src/core/alloc.h
src/core/parallel.h:
src/core/alloc.h:
