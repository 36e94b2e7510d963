# sm90 (Hopper) emulator: the shadow of templates/common/sm90_primitives.cuh.
include(${CMAKE_CURRENT_LIST_DIR}/emu_shadow_sm90.cmake)
