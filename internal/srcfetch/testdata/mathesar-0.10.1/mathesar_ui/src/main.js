console.log("mathesar");
