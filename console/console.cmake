# console.cmake - the web console's static files, embedded in worklink-control at build time
# (included by control/CMakeLists.txt after wl_control is defined). No build step: the files
# of this folder are served as they are (plain ES modules).
set(CONSOLE_FILES index.html style.css app.js api.js sigv4.js ui.js pages.js)
string(REPLACE ";" "," CONSOLE_LIST "${CONSOLE_FILES}")
set(CONSOLE_DEPS)
foreach(f ${CONSOLE_FILES})
    list(APPEND CONSOLE_DEPS ${CMAKE_SOURCE_DIR}/console/${f})
endforeach()
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
    COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}/console
            -DFILES=${CONSOLE_LIST} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
            -P ${CMAKE_SOURCE_DIR}/console/embed_assets.cmake
    DEPENDS ${CONSOLE_DEPS} ${CMAKE_SOURCE_DIR}/console/embed_assets.cmake)
target_sources(wl_control PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c)
